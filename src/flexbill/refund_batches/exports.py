"""A batch's results as CSV rows (written through billing.exports, which keeps spreadsheets from running cells)."""

from collections.abc import Iterator

from .models import RefundBatch

RESULT_COLUMNS = [
    "position",
    "charge",
    "invoice",
    "customer",
    "currency",
    "charge_amount",
    "status",
    "refund",
    "refund_amount",
    "refund_status",
    "detail",
]


def result_rows(batch: RefundBatch) -> Iterator[list]:
    items = batch.items.select_related("charge__invoice__customer", "refund").order_by("position")
    for item in items.iterator(chunk_size=500):
        charge, refund = item.charge, item.refund
        yield [
            item.position,
            charge.pk,
            charge.invoice.number,
            charge.invoice.customer.name,
            charge.currency,
            charge.amount,
            item.status,
            refund.pk if refund else None,
            refund.amount if refund else None,
            refund.status if refund else "",
            item.detail,
        ]
