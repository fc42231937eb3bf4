"""Row locks for writes that recompute a charge and its invoice.

Always invoice first, then charge: one lock order everywhere means no deadlocks. On PostgreSQL these are
SELECT ... FOR UPDATE; SQLite ignores FOR UPDATE, but flexbill opens its transactions IMMEDIATE there
(settings.py), which takes the database's write lock at BEGIN and so serializes these writes.
"""

from dataclasses import dataclass
from functools import cache

from django.db import connection

from flexbill.errors import NotFound

from ..models import Charge, CreditNote, Invoice, Refund


def lock_charge(*, charge_id: int) -> Charge:
    """Lock a charge and its invoice; call inside transaction.atomic()."""
    invoice = Invoice.objects.select_for_update(of=("self",)).get(charges__id=charge_id)
    charge = Charge.objects.select_for_update(of=("self",)).select_related("organization").get(pk=charge_id)
    charge.invoice = invoice
    return charge


@dataclass(frozen=True)
class LockedCharge:
    """A charge under lock with every row deriving it and its invoice takes (derive.py, rules.invoice_refunds)."""

    charge: Charge  # with its invoice and organization
    charges: list[Charge]  # all the invoice's charges, the charge among them, in id order
    refunds: list[Refund]  # the charge's refunds, in id order
    outside_refunds: int  # what the invoice's credit notes record as returned outside Stripe


def lock_charge_for_refund(*, charge_id: int) -> LockedCharge:
    """Lock a charge's invoice, then every charge of that invoice, then read the invoice's money returned outside
    Stripe and the charge's refunds: four statements. Call inside transaction.atomic().

    The reads are statements of their own, begun once the locks are held: under READ COMMITTED a statement sees
    what was committed before it began, so a credit note or refund committed while this one waited for a lock would
    be missed by a read folded into the locking statement.

    The refund request's path: all but the charges' lock are written out as SQL once per process, because building
    them with the ORM cost more than running them (bench/refunds.py)."""
    sql = _refund_lock_sql()
    invoice = next(iter(Invoice.objects.raw(sql.invoice, [charge_id])), None)
    if invoice is None:
        raise NotFound("No such charge.")  # deleted meanwhile (a charge Stripe definitely refused)
    # The organization's settings (approval threshold, Stripe key) as they are now, whoever holds an older copy.
    charges = list(
        Charge.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(invoice_id=invoice.pk)
        .order_by("pk")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql.outside_refunds, [invoice.pk])
        (outside_refunds,) = cursor.fetchone()
    refunds = list(Refund.objects.raw(sql.refunds, [charge_id]))
    for sibling in charges:
        sibling.invoice = invoice
    charge = next(c for c in charges if c.pk == charge_id)
    return LockedCharge(charge=charge, charges=charges, refunds=refunds, outside_refunds=outside_refunds)


@dataclass(frozen=True)
class _RefundLockSql:
    invoice: str
    outside_refunds: str
    refunds: str


@cache
def _refund_lock_sql() -> _RefundLockSql:
    """The statements, with table names from the models and values as parameters."""
    invoices, charges, refunds, notes = (
        connection.ops.quote_name(m._meta.db_table) for m in (Invoice, Charge, Refund, CreditNote)
    )
    lock = " FOR UPDATE OF i" if connection.features.has_select_for_update_of else ""  # SQLite: see above
    return _RefundLockSql(
        invoice=(
            f"SELECT i.* FROM {invoices} i"  # noqa: S608
            f" WHERE i.id = (SELECT invoice_id FROM {charges} WHERE id = %s){lock}"
        ),
        # The credit notes for which CreditNote.records_outside_refund holds (CAST: PostgreSQL sums to numeric).
        outside_refunds=(
            f"SELECT CAST(COALESCE(SUM(amount), 0) AS bigint) FROM {notes}"  # noqa: S608
            " WHERE invoice_id = %s AND refund_id IS NULL AND refund_method <> ''"
        ),
        refunds=f"SELECT r.* FROM {refunds} r WHERE r.charge_id = %s ORDER BY r.id",  # noqa: S608
    )


def lock_invoice(*, invoice_id: int) -> Invoice:
    # of=("self",): lock the invoice row only. Without it PostgreSQL also locks the joined organization and
    # customer rows, so every write in an organization queued behind one row, and concurrent ones deadlocked.
    return Invoice.objects.select_for_update(of=("self",)).select_related("organization", "customer").get(pk=invoice_id)
