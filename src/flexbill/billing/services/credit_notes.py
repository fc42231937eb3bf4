import uuid
from datetime import date

from django.db import transaction

from flexbill.accounts.models import Membership
from flexbill.accounts.permissions import Permission
from flexbill.audit.services import Actor, audit_record
from flexbill.choices import RecordedRefundMethod
from flexbill.errors import Conflict, InvalidInput, PermissionDenied

from .. import rules
from ..models import CreditNote, Invoice, Refund, RefundStatus
from ..refusals import RefundRefused, Refusal
from .derive import invoice_figures, invoice_refresh
from .invoices import validate_amount
from .locks import lock_invoice


def credit_note_create(
    *,
    membership: Membership,
    invoice: Invoice,
    amount: object,
    reason: str,
    refund_method: str = "",
    refund_reference: str = "",
    refunded_on: date | None = None,
) -> CreditNote:
    """Issue a credit note; with a refund method it records money returned outside Stripe (docs/rules.md, rule 10).

    Every credit note stays within the invoice total; one recording money returned also stays within what the
    invoice may still refund (rules.recorded_refund_refusal), checked under the invoice lock so that two at once
    cannot together return more than was paid.
    """
    if not membership.has_permission(Permission.CREDIT_NOTES_CREATE):
        raise PermissionDenied(Refusal.PERMISSION_DENIED.sentence)
    amount = validate_amount(amount)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("A credit note needs a reason of at most 500 characters.", code="reason_invalid")
    if refund_method and refund_method not in RecordedRefundMethod.values:
        raise InvalidInput(
            f"refund.method must be one of {', '.join(RecordedRefundMethod.values)}.", code="refund_method_invalid"
        )
    if len(refund_reference or "") > 255:
        raise InvalidInput("refund.reference must be at most 255 characters.", code="reference_invalid")
    actor = Actor.for_user(membership.user)
    with transaction.atomic():
        invoice = lock_invoice(invoice_id=invoice.pk)
        if refund_method:
            figures = invoice_figures(invoice)
            if rules.recorded_refund_refusal(amount=amount, invoice=figures):
                raise RefundRefused(Refusal.REFUNDS_EXCEED_PAID, detail=_no_room(figures))
        credited = sum(cn.amount for cn in invoice.credit_notes.all())
        if credited + amount > invoice.total:
            raise Conflict(
                f"Credit notes on this invoice would exceed its total ({invoice.total}); "
                f"{invoice.total - credited} can still be credited.",
                code="amount_too_large",
            )
        note = _create(
            invoice=invoice,
            amount=amount,
            reason=reason,
            actor=actor,
            refund_method=refund_method,
            refund_reference=(refund_reference or "").strip(),
            refunded_on=refunded_on if refund_method else None,
        )
        invoice_refresh(invoice=invoice, actor=actor)
    return note


def _no_room(figures: rules.InvoiceRefunds) -> str:
    if figures.paid == 0:
        return (
            "Nothing has been paid on this invoice, so no money can be recorded as returned. "
            "Issue the credit note without money returned."
        )
    if figures.room == 0:
        return (
            f"Nothing is left to refund on this invoice: the {figures.paid} paid is already refunded or being "
            "refunded. Issue the credit note without money returned, or correct the earlier refund."
        )
    return (
        f"This would record more refunded than was paid: only {figures.room} of the {figures.paid} paid "
        "can still be recorded as returned."
    )


def credit_note_for_refund(*, refund: Refund, actor: Actor) -> CreditNote | None:
    """The credit note an app refund asked for (`credit_note: true`); caller holds the invoice lock.

    Credit notes never add up to more than the invoice: it credits what is left, or nothing.
    """
    invoice = refund.charge.invoice
    creditable = invoice.total - sum(cn.amount for cn in invoice.credit_notes.all())
    amount = min(refund.amount, creditable)
    if amount <= 0:
        return None
    return _create(
        invoice=invoice,
        amount=amount,
        reason=f"Refund {refund.pk} through Stripe ({refund.reason})",
        actor=actor,
        refund=refund,
    )


def _create(*, invoice: Invoice, amount: int, reason: str, actor: Actor, **fields) -> CreditNote:
    note = CreditNote.objects.create(
        organization_id=invoice.organization_id,
        invoice=invoice,
        number=f"pending-{uuid.uuid4().hex}",
        amount=amount,
        currency=invoice.currency,
        reason=reason,
        created_by=actor.user,
        **fields,
    )
    note.number = f"CN-{note.pk:06d}"
    note.save(update_fields=["number"])
    audit_record(
        organization_id=invoice.organization_id,
        actor=actor,
        action="credit_note.created",
        obj=note,
        after={
            "number": note.number,
            "amount": amount,
            "refund_method": note.refund_method,
            "refund_reference": note.refund_reference,
            "refund": note.refund_id,
        },
        message=reason,
        invoice_id=invoice.pk,
    )
    return note


def issue_requested_credit_note(*, refund: Refund, actor: Actor, invoice_id: int) -> None:
    """The credit note an app refund asked for, once Stripe has accepted the refund; caller holds the locks."""
    if not refund.credit_note_requested or refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
        return
    if CreditNote.objects.filter(refund=refund).exists():
        return
    credit_note_for_refund(refund=refund, actor=actor)
