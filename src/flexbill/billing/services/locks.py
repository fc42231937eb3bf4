"""Row locks for writes that recompute a charge and its invoice.

Always invoice first, then charge: one lock order everywhere means no deadlocks. On PostgreSQL these are
SELECT ... FOR UPDATE; SQLite ignores FOR UPDATE, but flexbill opens its transactions IMMEDIATE there
(settings.py), which takes the database's write lock at BEGIN and so serializes these writes.
"""

from dataclasses import dataclass
from functools import cache

from django.db import connection

from flexbill.bulk_sql import id_in
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

    The refund request's path: the invoice lock and the reads are the written-out statements below, shared with
    the set-based path (apply.py), because building them with the ORM cost more than running them
    (bench/refunds.py)."""
    invoice = next(iter(lock_invoices_of_charges([charge_id]).values()), None)
    if invoice is None:
        raise NotFound("No such charge.")  # deleted meanwhile (a charge Stripe definitely refused)
    # The organization's settings (approval threshold, Stripe key) as they are now, whoever holds an older copy.
    charges = list(
        Charge.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(invoice_id=invoice.pk)
        .order_by("pk")
    )
    outside_refunds = outside_refunds_by_invoice([invoice.pk]).get(invoice.pk, 0)
    refunds = refunds_of_charges([charge_id])
    for sibling in charges:
        sibling.invoice = invoice
    charge = next(c for c in charges if c.pk == charge_id)
    return LockedCharge(charge=charge, charges=charges, refunds=refunds, outside_refunds=outside_refunds)


# Many rows at once, in the one lock order (invoices, then their charges, each in id order), as the refund request
# (above) and the set-based apply path (apply.py) take them. What is read under these locks (refunds, credit notes)
# is read by statements of their own begun after them: under READ COMMITTED a statement sees what was committed
# before it began, so a credit note or refund committed while a lock was awaited would be missed by a read folded
# into the locking statement.


def lock_invoices_of_charges(charge_ids: list[int]) -> dict[int, Invoice]:
    """Lock the invoices of these charges (not empty), in id order; by id."""
    where, params = id_in("id", charge_ids)
    return {i.pk: i for i in Invoice.objects.raw(_sql().invoices.format(where=where), params)}


def lock_charges_of_invoices(invoice_ids: list[int]) -> list[Charge]:
    """Lock every charge of these invoices (not empty), in id order."""
    where, params = id_in("c.invoice_id", invoice_ids)
    return list(Charge.objects.raw(_sql().charges.format(where=where), params))


def refunds_of_charges(charge_ids: list[int]) -> list[Refund]:
    """The refunds of these charges (not empty), in id order; read after their locks are held."""
    where, params = id_in("r.charge_id", charge_ids)
    return list(Refund.objects.raw(_sql().refunds.format(where=where), params))


def outside_refunds_by_invoice(invoice_ids: list[int]) -> dict[int, int]:
    """What each invoice's credit notes record as returned outside Stripe (CreditNote.records_outside_refund),
    for those that record any; read after the invoices' locks are held."""
    where, params = id_in("invoice_id", invoice_ids)
    with connection.cursor() as cursor:
        cursor.execute(_sql().outside_refunds.format(where=where), params)
        return dict(cursor.fetchall())


@dataclass(frozen=True)
class _LockSql:
    invoices: str
    charges: str
    refunds: str
    outside_refunds: str


@cache
def _sql() -> _LockSql:
    """The statements, written out once per process: table names from the models, `{where}` is id_in's."""
    invoices, charges, refunds, notes = (
        connection.ops.quote_name(m._meta.db_table) for m in (Invoice, Charge, Refund, CreditNote)
    )
    of = connection.features.has_select_for_update_of  # SQLite: see above
    return _LockSql(
        invoices=(
            f"SELECT i.* FROM {invoices} i WHERE i.id IN (SELECT invoice_id FROM {charges} WHERE {{where}})"  # noqa: S608
            f" ORDER BY i.id{' FOR UPDATE OF i' if of else ''}"
        ),
        charges=f"SELECT c.* FROM {charges} c WHERE {{where}} ORDER BY c.id{' FOR UPDATE OF c' if of else ''}",  # noqa: S608
        refunds=f"SELECT r.* FROM {refunds} r WHERE {{where}} ORDER BY r.id",  # noqa: S608
        # The credit notes for which CreditNote.records_outside_refund holds (CAST: PostgreSQL sums to numeric).
        outside_refunds=(
            f"SELECT invoice_id, CAST(SUM(amount) AS bigint) FROM {notes}"  # noqa: S608
            " WHERE {where} AND refund_id IS NULL AND refund_method <> '' GROUP BY invoice_id"
        ),
    )


def lock_invoice(*, invoice_id: int) -> Invoice:
    # of=("self",): lock the invoice row only. Without it PostgreSQL also locks the joined organization and
    # customer rows, so every write in an organization queued behind one row, and concurrent ones deadlocked.
    return Invoice.objects.select_for_update(of=("self",)).select_related("organization", "customer").get(pk=invoice_id)
