"""Issuing refunds through Stripe (docs/rules.md, rule 5): record first, reserve, call Stripe, then store what it
said."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from flexbill.accounts.permissions import Permission
from flexbill.audit.services import SYSTEM, Actor, audit_event, audit_record
from flexbill.errors import InvalidInput, StripeFailed
from flexbill.outbox.events import REFUND_AWAITING_APPROVAL, REFUND_CANCELED, REFUND_CREATED, refund_event
from flexbill.stripe_gateway.client import REFUND_ID_KEY, REFUND_REFERENCE_KEY, gateway_for
from flexbill.stripe_gateway.types import RefundInfo, StripeGatewayError

from .. import approval_rules, rules
from ..idempotency import idempotency_key_check, request_fingerprint, same_request_check
from ..models import Charge, Refund, RefundOrigin, RefundReason, RefundStatus
from ..refusals import RefundRefused, Refusal
from .derive import Recorded, charge_refresh
from .locks import lock_charge, lock_charge_for_refund
from .sync import charge_sync_refunds

log = logging.getLogger("flexbill.refunds")
MAX_NOTE = 1000


def refund_create(
    *,
    actor: Actor,
    charge: Charge,
    amount: object = None,
    reason: str = RefundReason.REQUESTED_BY_CUSTOMER,
    note: str = "",
    credit_note: bool = False,
    idempotency_key: str | None = None,
    currency: str | None = None,
    now: datetime | None = None,
    request_body: dict | None = None,
) -> Refund:
    """Refund a Stripe charge, fully (amount=None) or partly. Raises RefundRefused, StripeFailed, Conflict.

    `request_body`: the request exactly as the caller received it (the API's JSON body). A replay of the same
    Idempotency-Key must carry the same body, field for field, or it is refused (409); without one, the
    arguments themselves are the request.
    """
    if reason not in RefundReason.values:
        raise InvalidInput(f"reason must be one of {', '.join(RefundReason.values)}.", code="reason_invalid")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"note must be at most {MAX_NOTE} characters.", code="note_invalid")
    idempotency_key_check(idempotency_key)
    if request_body is None:
        request_body = {
            "amount": amount,
            "reason": reason,
            "note": note,
            "credit_note": credit_note,
            "currency": currency,
        }
    fingerprint = request_fingerprint(charge.pk, request_body)
    if not actor.may(Permission.CHARGES_REFUND, organization_id=charge.organization_id):
        # Before anything else, replays included: a key someone else used reveals nothing to the unpermitted.
        raise RefundRefused(Refusal.PERMISSION_DENIED)
    existing = _refund_for_key(charge.organization_id, idempotency_key)
    if existing is not None:
        return _replay(existing, fingerprint)

    try:
        with transaction.atomic():
            locked = lock_charge_for_refund(charge_id=charge.pk)
            charge = locked.charge
            # A concurrent request with the same key may have committed while this one waited for the lock:
            # answer with its refund rather than judge this one against the amount it already reserved.
            existing = _refund_for_key(charge.organization_id, idempotency_key)
            if existing is not None:
                raise _SameKeyCommitted(existing)
            eligibility = rules.refund_eligibility(
                charge,
                now=now or timezone.now(),
                can_refund=actor.may(Permission.CHARGES_REFUND),
                amount=amount,
                currency=currency,
                invoice=rules.invoice_refunds(locked.charges, outside_refunds=locked.outside_refunds),
            )
            if not eligibility.allowed:
                raise RefundRefused(eligibility.refusal)
            waits = approval_rules.refund_needs_approval(
                amount=eligibility.amount,
                currency=charge.currency,
                threshold=charge.organization.refund_approval_threshold,
                default_currency=charge.organization.default_currency,
            )
            refund = Refund.objects.create(
                organization_id=charge.organization_id,
                charge=charge,
                amount=eligibility.amount,
                currency=charge.currency,
                reason=reason,
                note=note,
                status=RefundStatus.AWAITING_APPROVAL if waits else RefundStatus.REQUESTED,
                origin=RefundOrigin.APP,
                idempotency_key=idempotency_key or None,
                request_fingerprint=fingerprint,
                credit_note_requested=credit_note,
                created_by_id=actor.user_id,
            )
            recorded = Recorded()
            recorded.audits.append(
                audit_event(
                    organization_id=charge.organization_id,
                    actor=actor,
                    action="refund.awaiting_approval" if waits else "refund.requested",
                    obj=refund,
                    after=_refund_state(refund),
                    message=note,
                    invoice_id=charge.invoice_id,
                )
            )
            recorded.events.append(
                refund_event(
                    REFUND_AWAITING_APPROVAL if waits else REFUND_CREATED,
                    refund,
                    invoice_id=charge.invoice_id,
                    actor=actor,
                )
            )
            charge_refresh(charge=charge, actor=actor, refunds=[*locked.refunds, refund], recorded=recorded)
            recorded.flush()
    except _SameKeyCommitted as same:
        return _replay(same.refund, fingerprint)  # outside the transaction: a replay may call Stripe
    except IntegrityError as exc:
        # Two requests raced: the same Idempotency-Key (answer with the first one's refund), or the
        # database's own guard on the charge's refunds (charge_refunds_within_amount) caught an over-refund.
        existing = _refund_for_key(charge.organization_id, idempotency_key)
        if existing is not None:
            return _replay(existing, fingerprint)
        raise RefundRefused(Refusal.AMOUNT_TOO_LARGE) from exc
    if refund.status == RefundStatus.AWAITING_APPROVAL:
        return refund  # reserved; Stripe hears of it once another person approves it (services/approvals.py)
    return refund_send(refund=refund, actor=actor)


class _SameKeyCommitted(Exception):
    def __init__(self, refund: Refund):
        super().__init__("same Idempotency-Key already committed")
        self.refund = refund


def refund_settle(*, refund: Refund, resend: bool, actor: Actor = SYSTEM) -> Refund:
    """Settle a refund left "requested" (crash, timeout): adopt Stripe's refund carrying our reference;
    if Stripe has none, send it again with the same idempotency key (resend) or, once the grace period has
    passed, cancel it (reconcile)."""
    charge = refund.charge
    read_at = timezone.now()
    info = _find_in_stripe(refund)
    if info is not None:
        return _store(refund=refund, info=info, actor=actor, read_at=read_at)
    if resend:
        return refund_send(refund=refund, actor=actor)
    grace = timedelta(seconds=settings.FLEXBILL_REQUESTED_REFUND_GRACE_SECONDS)
    if timezone.now() - refund.sent_since < grace:
        return refund
    with transaction.atomic():
        charge = lock_charge(charge_id=charge.pk)
        refund = Refund.objects.get(pk=refund.pk)
        if refund.status != RefundStatus.REQUESTED:
            return refund
        refund_cancel_locked(
            refund=refund,
            charge=charge,
            actor=actor,
            reason="Stripe has no record of this refund: it never reached Stripe. No money moved.",
            action="refund.canceled",
            event_type=REFUND_CANCELED,
        )
    return refund


def refund_send(*, refund: Refund, actor: Actor) -> Refund:
    """Send a recorded, reserved refund to Stripe under its own idempotency key and store Stripe's answer."""
    charge = refund.charge
    read_at = timezone.now()
    try:
        info = gateway_for(charge.organization).refund_create(
            charge_id=charge.stripe_charge_id,
            amount=refund.amount,
            reason=refund.reason,
            metadata={
                REFUND_ID_KEY: str(refund.pk),
                REFUND_REFERENCE_KEY: str(refund.reference),
                "flexbill_invoice": charge.invoice.number,
            },
            idempotency_key=f"flexbill-refund-{refund.reference}",
        )
    except StripeGatewayError as exc:
        if exc.maybe_applied:
            audit_record(
                organization_id=refund.organization_id,
                actor=actor,
                action="refund.unconfirmed",
                obj=refund,
                message=exc.message,
                invoice_id=charge.invoice_id,
            )
            raise StripeFailed(
                f"{exc.message} The refund is recorded as requested and will be settled with Stripe "
                "automatically; do not send it again.",
                code="stripe_unconfirmed",
            ) from exc
        _release(refund=refund, actor=actor, message=exc.message)
        raise StripeFailed(f"Stripe did not refund: {exc.message} Nothing was changed.") from exc
    return _store(refund=refund, info=info, actor=actor, read_at=read_at)


def _store(*, refund: Refund, info: RefundInfo, actor: Actor, read_at: datetime) -> Refund:
    """Store Stripe's answer about a refund flexbill sent; `read_at`: when the request that got it was made.

    Stripe's refund carries the refund's reference, so it lands on this refund; if another attempt released the
    refund meanwhile, Stripe did refund all the same, and the refund is recorded as Stripe reports it.
    """
    result = charge_sync_refunds(charge=refund.charge, refunds=[info], actor=actor, read_at=read_at, complete=False)
    stored = result.refunds.get(info.id) or Refund.objects.get(pk=refund.pk)
    if stored.pk == refund.pk and Refund.created_by.field.is_cached(refund):
        stored.created_by = refund.created_by  # who asked is known: the answer need not read it again
    return stored


def _release(*, refund: Refund, actor: Actor, message: str) -> None:
    """Stripe definitely did not refund: remove the reservation so the charge is exactly as it was."""
    with transaction.atomic():
        charge = lock_charge(charge_id=refund.charge_id)
        before = _refund_state(refund)
        recorded = Recorded()
        recorded.audits.append(
            audit_event(
                organization_id=refund.organization_id,
                actor=actor,
                action="refund.rejected",
                obj=refund,
                before=before,
                message=message,
                invoice_id=charge.invoice_id,
            )
        )
        deleted, _ = Refund.objects.filter(
            pk=refund.pk, status=RefundStatus.REQUESTED, stripe_refund_id__isnull=True
        ).delete()
        if deleted:
            # Integrators heard of it as refund.created: tell them it ended, as a cancellation (no money moved).
            refund.status, refund.failure_reason = RefundStatus.CANCELED, message[:500]
            recorded.events.append(
                refund_event(REFUND_CANCELED, refund, invoice_id=charge.invoice_id, actor=actor, previous=before)
            )
        charge_refresh(charge=charge, actor=actor, recorded=recorded)
        recorded.flush()


def _find_in_stripe(refund: Refund) -> RefundInfo | None:
    try:
        refunds = gateway_for(refund.organization).refunds_for_charge(refund.charge.stripe_charge_id)
    except StripeGatewayError as exc:
        raise StripeFailed(f"Stripe could not be asked about this refund: {exc.message}") from exc
    reference = str(refund.reference)
    return next((r for r in refunds if r.metadata.get(REFUND_REFERENCE_KEY) == reference), None)


def _refund_for_key(organization_id: int, idempotency_key: str | None) -> Refund | None:
    if not idempotency_key:
        return None
    return Refund.objects.filter(organization_id=organization_id, idempotency_key=idempotency_key).first()


def _replay(existing: Refund, fingerprint: str) -> Refund:
    same_request_check(existing.request_fingerprint, fingerprint)
    # A retry of a request whose Stripe call never confirmed: settle it now, once the first attempt is over.
    in_flight_for = timedelta(seconds=settings.FLEXBILL_STRIPE_TIMEOUT * (settings.FLEXBILL_STRIPE_MAX_RETRIES + 1) + 5)
    if existing.status == RefundStatus.REQUESTED and timezone.now() - existing.sent_since > in_flight_for:
        return refund_settle(refund=existing, resend=True)
    return existing


def refund_cancel_locked(
    *,
    refund: Refund,
    charge: Charge,
    actor: Actor,
    reason: str,
    action: str,
    event_type: str,
    state=None,
    also: dict | None = None,
) -> None:
    """Cancel a refund whose charge the caller holds locked: its reservation released, audited as `action` (with
    `state(refund)` before and after) and announced as `event_type`; `also` sets more of its fields in the same save."""
    state = state or _refund_state
    before = state(refund)
    refund.status, refund.failure_reason = RefundStatus.CANCELED, reason
    for name, value in (also or {}).items():
        setattr(refund, name, value)
    refund.save(update_fields=["status", "failure_reason", *(also or {}), "updated_at"])
    recorded = Recorded()
    recorded.audits.append(
        audit_event(
            organization_id=refund.organization_id,
            actor=actor,
            action=action,
            obj=refund,
            before=before,
            after=state(refund),
            message=reason,
            invoice_id=charge.invoice_id,
        )
    )
    recorded.events.append(refund_event(event_type, refund, invoice_id=charge.invoice_id, actor=actor, previous=before))
    charge_refresh(charge=charge, actor=actor, recorded=recorded)
    recorded.flush()


def _refund_state(refund: Refund) -> dict:
    return {
        "amount": refund.amount,
        "status": refund.status,
        "reason": refund.reason,
        "origin": refund.origin,
        "stripe_refund_id": refund.stripe_refund_id,
    }
