"""Four eyes on large refunds (docs/rules.md, rule 21): a refund at or above the organization's threshold is
recorded "awaiting_approval" with its amount reserved (refunds.refund_create); another person who may approve
sends it to Stripe, or rejects it; the worker cancels those that waited too long."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from flexbill.accounts.permissions import Permission
from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, Actor, audit_event
from flexbill.errors import InvalidInput
from flexbill.outbox.events import REFUND_APPROVED, REFUND_REJECTED, refund_event
from flexbill.outbox.services import outbox_record

from ..approval_rules import approval_expired, approval_refusal, approved_charge_refusal
from ..models import Refund, RefundStatus
from ..refusals import RefundRefused, Refusal
from .locks import lock_charge
from .refunds import refund_cancel_locked, refund_send

MAX_REJECTION_REASON = 500
EXPIRED_REASON = "Waited longer than {days} days for approval: expired. Its amount is released; no money moved."
WITHDRAWN_REASON = "Its charge was marked refunded (the money went back outside flexbill): withdrawn, no money moved."


def approval_valid_for() -> timedelta:
    return timedelta(days=settings.FLEXBILL_REFUND_APPROVAL_DAYS)


def refund_approve(*, actor: Actor, refund: Refund, now: datetime | None = None) -> Refund:
    """Approve a refund awaiting approval and send it to Stripe (as any refund: its own idempotency key, released
    if Stripe refuses, left requested and settled later if Stripe's answer is lost). Raises RefundRefused (403 for
    the requester or without billing.refunds.approve; 409 once decided, expired, or when the charge changed),
    StripeFailed."""
    if not actor.may(Permission.REFUNDS_APPROVE, organization_id=refund.organization_id):
        raise RefundRefused(Refusal.PERMISSION_DENIED)
    now = now or timezone.now()
    with transaction.atomic():
        charge = lock_charge(charge_id=refund.charge_id)
        # Read again under the charge's lock: of two approvers at once, the second sees the first one's decision.
        refund = Refund.objects.select_related("charge__invoice", "organization").get(pk=refund.pk)
        refusal = approval_refusal(
            status=refund.status,
            requester_id=refund.created_by_id,
            approver_id=actor.user_id,
            created_at=refund.created_at,
            now=now,
            valid_for=approval_valid_for(),
        )
        if refusal is None:
            refusal = approved_charge_refusal(charge, now=now)
        if refusal is Refusal.APPROVAL_EXPIRED:
            _expire(refund=refund, charge=charge)
        elif refusal is None:
            before = _state(refund)
            # Conditional on the status it was read with, so it can only ever happen once.
            decided = Refund.objects.filter(pk=refund.pk, status=RefundStatus.AWAITING_APPROVAL).update(
                status=RefundStatus.REQUESTED, decided_by_id=actor.user_id, decided_at=now, updated_at=now
            )
            if decided != 1:
                raise RefundRefused(Refusal.NOT_AWAITING_APPROVAL)
            refund.refresh_from_db()
            outbox_record(
                [refund_event(REFUND_APPROVED, refund, invoice_id=charge.invoice_id, actor=actor, previous=before)],
                alongside=[
                    (
                        AuditEvent,
                        [
                            audit_event(
                                organization_id=refund.organization_id,
                                actor=actor,
                                action="refund.approved",
                                obj=refund,
                                before=before,
                                after=_state(refund),
                                invoice_id=charge.invoice_id,
                            )
                        ],
                    )
                ],
            )
    if refusal is not None:
        raise RefundRefused(refusal)  # outside the transaction: an expiry found here stays recorded
    refund.charge = charge
    return refund_send(refund=refund, actor=actor)


def refund_reject(*, actor: Actor, refund: Refund, reason: object, now: datetime | None = None) -> Refund:
    """Reject a refund awaiting approval: canceled, its reservation released, nothing sent to Stripe. The requester
    may withdraw their own this way if they hold billing.refunds.approve."""
    if not actor.may(Permission.REFUNDS_APPROVE, organization_id=refund.organization_id):
        raise RefundRefused(Refusal.PERMISSION_DENIED)
    reason = rejection_reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        charge = lock_charge(charge_id=refund.charge_id)
        refund = Refund.objects.get(pk=refund.pk)
        if refund.status != RefundStatus.AWAITING_APPROVAL:
            raise RefundRefused(Refusal.NOT_AWAITING_APPROVAL)
        refund_cancel_locked(
            refund=refund,
            charge=charge,
            actor=actor,
            reason=reason,
            action="refund.approval_rejected",
            event_type=REFUND_REJECTED,
            state=_state,
            also={"decided_by_id": actor.user_id, "decided_at": now},
        )
    return refund


def refund_approvals_expire(*, now: datetime | None = None) -> int:
    """Cancel every refund that has waited for approval longer than FLEXBILL_REFUND_APPROVAL_DAYS, releasing its
    amount (the worker's periodic housekeeping). Returns how many expired."""
    now = now or timezone.now()
    cutoff = now - approval_valid_for()
    due = Refund.objects.filter(status=RefundStatus.AWAITING_APPROVAL, created_at__lte=cutoff).values_list(
        "pk", "charge_id"
    )
    expired = 0
    for refund_id, charge_id in list(due):
        with transaction.atomic():
            charge = lock_charge(charge_id=charge_id)
            refund = Refund.objects.get(pk=refund_id)
            if refund.status != RefundStatus.AWAITING_APPROVAL:
                continue  # decided meanwhile
            if not approval_expired(created_at=refund.created_at, now=now, valid_for=approval_valid_for()):
                continue
            _expire(refund=refund, charge=charge)
            expired += 1
    return expired


def refund_approvals_withdraw_locked(*, charge, actor: Actor) -> int:
    """Cancel the refunds of `charge` still awaiting approval, because the charge is being marked refunded: the mark
    counts all its money as returned outside flexbill, and approving one of them would be refused (approval_rules).
    The caller holds the charge's lock and has checked that `actor` may mark it. Returns how many were withdrawn."""
    awaiting = Refund.objects.filter(charge_id=charge.pk, status=RefundStatus.AWAITING_APPROVAL).order_by("pk")
    withdrawn = 0
    for refund in awaiting.select_related("created_by", "decided_by"):
        refund_cancel_locked(
            refund=refund,
            charge=charge,
            actor=actor,
            reason=WITHDRAWN_REASON,
            action="refund.approval_withdrawn",
            event_type=REFUND_REJECTED,
            state=_state,
        )
        withdrawn += 1
    return withdrawn


def rejection_reason(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput("Say why the refund is rejected (reason).", code="reason_required")
    if len(text) > MAX_REJECTION_REASON:
        raise InvalidInput(
            f"The reason is too long ({len(text)} characters; at most {MAX_REJECTION_REASON}).", code="reason_invalid"
        )
    return text


def _expire(*, refund: Refund, charge) -> None:
    refund_cancel_locked(
        refund=refund,
        charge=charge,
        actor=SYSTEM,
        reason=EXPIRED_REASON.format(days=settings.FLEXBILL_REFUND_APPROVAL_DAYS),
        action="refund.approval_expired",
        event_type=REFUND_REJECTED,
        state=_state,
    )


def _state(refund: Refund) -> dict:
    return {
        "amount": refund.amount,
        "status": refund.status,
        "reason": refund.reason,
        "origin": refund.origin,
        "stripe_refund_id": refund.stripe_refund_id,
        "requested_by": refund.created_by.email if refund.created_by_id else None,
        "decided_by": refund.decided_by.email if refund.decided_by_id else None,
    }
