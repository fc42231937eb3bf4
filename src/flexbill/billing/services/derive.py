"""Status and amount derivation: the one place where refund rows turn into charge and invoice state.

Callers hold the invoice and charge row locks (see locks.py) so that the recomputation reads every row it sums.
"""

from dataclasses import dataclass, field

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import Actor, audit_event
from flexbill.outbox.events import charge_event, invoice_event
from flexbill.outbox.services import outbox_record

from .. import rules
from ..models import Charge, Invoice


@dataclass
class Recorded:
    """What one operation says about itself: audit events for people, outbox events for machines. Collected while
    the operation runs and written together at its end (flush), one INSERT for each, in its transaction."""

    audits: list = field(default_factory=list)
    events: list = field(default_factory=list)

    def flush(self) -> None:
        audits, events = self.audits, self.events
        self.audits, self.events = [], []
        outbox_record(
            [e() if callable(e) else e for e in events],
            alongside=[(AuditEvent, [a() if callable(a) else a for a in audits])],
        )


def charge_snapshot(charge: Charge) -> dict:
    return {
        "status": charge.status,
        "amount_refunded": charge.amount_refunded,
        "amount_reserved": charge.amount_reserved,
    }


def invoice_snapshot(invoice: Invoice) -> dict:
    return {"status": invoice.status, "amount_paid": invoice.amount_paid, "amount_refunded": invoice.amount_refunded}


def charge_derive(charge: Charge, refunds) -> tuple[dict, dict]:
    """Set a charge's refunded and reserved amounts and its status from its refund rows (billing/rules.py); returns
    its snapshots before and after. The per-row refresh below and the set-based apply (apply.py) both use it."""
    before = charge_snapshot(charge)
    refunded, reserved = rules.refund_totals(refunds)
    charge.amount_refunded = refunded
    charge.amount_reserved = reserved
    charge.status = rules.charge_status(
        payment_status=charge.payment_status,
        amount=charge.amount,
        amount_refunded=refunded,
        marked_refunded=charge.marked_refunded_at is not None,
    )
    return before, charge_snapshot(charge)


def invoice_derive(invoice: Invoice, charges: list, figures: rules.InvoiceRefunds) -> tuple[dict, dict, object]:
    """Set an invoice's amounts and status from its charges and figures; returns its snapshots and the figures.

    Never more refunded than paid (CHECK invoice_refunded_within_paid): only refunds made directly in Stripe can
    return more, and figures.excess_note says by how much."""
    before = invoice_snapshot(invoice)
    invoice.amount_paid = figures.paid
    invoice.amount_refunded = figures.refunded
    invoice.status = rules.invoice_status(
        current=invoice.status,
        total=invoice.total,
        charge_statuses=[c.status for c in charges],
        amount_paid=figures.paid,
    )
    return before, invoice_snapshot(invoice), figures


def charge_changed_visibly(before: dict, after: dict) -> bool:
    """A change of status or amount refunded: audited as charge.updated, and its invoice recomputed. A change of the
    reservation alone is neither."""
    return after["status"] != before["status"] or after["amount_refunded"] != before["amount_refunded"]


def charge_refresh(
    *,
    charge: Charge,
    actor: Actor,
    message: str = "",
    refunds: list | None = None,
    payment_changed: bool = False,
    recorded: Recorded | None = None,
) -> Charge:
    """Recompute a charge's refunded/reserved amounts and status from its refunds, then its invoice's.

    `refunds`: the charge's refund rows when the caller already holds them (under the lock); otherwise read.
    The invoice is derived from its charges' amounts and statuses, so it is recomputed only when those changed:
    here, or in the caller (`payment_changed`: a new charge, or a payment's outcome).
    `recorded`: the caller's audit and outbox events, written with these by the caller; without it, written here.
    """
    own = recorded is None
    recorded = Recorded() if own else recorded
    before, after = charge_derive(charge, charge.refunds.all() if refunds is None else refunds)
    if after != before:
        # The CHECK constraint charge_refunds_within_amount rejects this save if refunds exceed the charge.
        charge.save(update_fields=["amount_refunded", "amount_reserved", "status", "updated_at"])
        if charge_changed_visibly(before, after):
            recorded.audits.append(
                audit_event(
                    organization_id=charge.organization_id,
                    actor=actor,
                    action="charge.updated",
                    obj=charge,
                    before=before,
                    after=after,
                    message=message,
                    invoice_id=charge.invoice_id,
                )
            )
            recorded.events.append(charge_event(charge, actor=actor, previous=before))
    if payment_changed or charge_changed_visibly(before, after):
        invoice_refresh(invoice=charge.invoice, actor=actor, message=message, recorded=recorded)
    if own:
        recorded.flush()
    return charge


def invoice_figures(invoice: Invoice, charges: list[Charge] | None = None) -> rules.InvoiceRefunds:
    """The invoice's paid / returned / in-flight figures (rules.InvoiceRefunds) from its rows. Caller holds the
    invoice lock, so no refund, mark or credit note of this invoice can change them meanwhile."""
    charges = list(invoice.charges.all()) if charges is None else charges
    outside_refunds = sum(cn.amount for cn in invoice.credit_notes.all() if cn.records_outside_refund)
    return rules.invoice_refunds(charges, outside_refunds=outside_refunds)


def invoice_refresh(*, invoice: Invoice, actor: Actor, message: str = "", recorded: Recorded | None = None) -> Invoice:
    own = recorded is None
    recorded = Recorded() if own else recorded
    charges = list(invoice.charges.all())
    before, after, figures = invoice_derive(invoice, charges, invoice_figures(invoice, charges))
    if after != before:
        message = f"{message} {figures.excess_note}".strip()
        invoice.save(update_fields=["amount_paid", "amount_refunded", "status", "updated_at"])
        recorded.audits.append(
            audit_event(
                organization_id=invoice.organization_id,
                actor=actor,
                action="invoice.updated",
                obj=invoice,
                before=before,
                after=after,
                message=message,
                invoice_id=invoice.pk,
            )
        )
        recorded.events.append(invoice_event(invoice, actor=actor, previous=before))
    if own:
        recorded.flush()
    return invoice
