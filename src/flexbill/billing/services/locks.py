"""Row locks for writes that recompute a charge and its invoice.

Always invoice first, then charge: one lock order everywhere means no deadlocks. On PostgreSQL these are
SELECT ... FOR UPDATE; SQLite ignores FOR UPDATE, but flexbill opens its transactions IMMEDIATE there
(settings.py), which takes the database's write lock at BEGIN and so serializes these writes.
"""

from ..models import Charge, Invoice


def lock_charge(*, charge_id: int) -> Charge:
    """Lock a charge and its invoice; call inside transaction.atomic()."""
    invoice = Invoice.objects.select_for_update(of=("self",)).get(charges__id=charge_id)
    charge = Charge.objects.select_for_update(of=("self",)).select_related("organization").get(pk=charge_id)
    charge.invoice = invoice
    return charge


def lock_charge_and_siblings(*, charge_id: int) -> tuple[Charge, list[Charge]]:
    """Lock a charge's invoice, then every charge of that invoice, in one statement each; returns the charge and all
    the invoice's charges (the charge among them), for deriving the invoice's figures without reading them again."""
    invoice = Invoice.objects.select_for_update(of=("self",)).get(charges__id=charge_id)
    charges = list(
        Charge.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(invoice_id=invoice.pk)
        .order_by("pk")
    )
    for sibling in charges:
        sibling.invoice = invoice
    return next(c for c in charges if c.pk == charge_id), charges


def lock_invoice(*, invoice_id: int) -> Invoice:
    # of=("self",): lock the invoice row only. Without it PostgreSQL also locks the joined organization and
    # customer rows, so every write in an organization queued behind one row, and concurrent ones deadlocked.
    return Invoice.objects.select_for_update(of=("self",)).select_related("organization", "customer").get(pk=invoice_id)
