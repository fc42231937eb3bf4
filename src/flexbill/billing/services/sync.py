"""Bringing Stripe's view of a charge's refunds into flexbill (rule 9), for webhooks, reconcile and issuing.

Refunds are keyed by Stripe's refund id, and refunds flexbill issued carry their flexbill reference in
metadata, so whichever path reports a refund first, it is recorded once.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from flexbill.audit.services import STRIPE, Actor, audit_record
from flexbill.errors import Conflict
from flexbill.stripe_gateway.client import REFUND_REFERENCE_KEY
from flexbill.stripe_gateway.types import RefundInfo

from ..models import Charge, CreditNote, Refund, RefundOrigin, RefundReason, RefundStatus
from .derive import charge_refresh
from .locks import lock_charge


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated


def charge_sync_refunds(
    *, charge: Charge, refunds: list[RefundInfo], actor: Actor = STRIPE, read_at: datetime | None = None
) -> SyncResult:
    """Upsert Stripe's refunds of this charge and derive its status. Safe to run any number of times.

    `read_at`: when these refunds were read from Stripe. A refund already updated from a later read keeps
    that newer state, so a slow webhook or an old reconcile snapshot never turns a status back.
    """
    read_at = read_at or timezone.now()
    result = SyncResult()
    try:
        with transaction.atomic():
            charge = lock_charge(charge_id=charge.pk)
            local = list(charge.refunds.all())
            by_stripe_id = {r.stripe_refund_id: r for r in local if r.stripe_refund_id}
            by_reference = {str(r.reference): r for r in local}
            for info in sorted(refunds, key=lambda i: (i.created.timestamp() if i.created else 0, i.id)):
                refund = by_stripe_id.get(info.id)
                if refund is None:
                    mine = by_reference.get(info.metadata.get(REFUND_REFERENCE_KEY, ""))
                    if mine is not None and mine.stripe_refund_id in (None, info.id):
                        refund = mine
                if refund is None:
                    refund = _create_from_stripe(charge=charge, info=info, actor=actor, read_at=read_at)
                    by_stripe_id[info.id] = refund
                    local.append(refund)
                    result.created += 1
                elif apply_stripe_refund(
                    refund=refund, info=info, actor=actor, invoice_id=charge.invoice_id, read_at=read_at
                ):
                    result.updated += 1
            charge_refresh(charge=charge, actor=actor, refunds=local)
    except IntegrityError as exc:
        raise Conflict(
            f"Stripe reports refunds on charge {charge.stripe_charge_id} beyond its amount; nothing was recorded.",
            code="refunds_exceed_charge",
        ) from exc
    return result


def refunds_in_sync(local: list[Refund], refunds: list[RefundInfo]) -> bool:
    """True when every Stripe refund is already recorded with Stripe's status: nothing to lock or write."""
    by_stripe_id = {r.stripe_refund_id: r for r in local if r.stripe_refund_id}
    for info in refunds:
        refund = by_stripe_id.get(info.id)
        if refund is None or refund.status != info.status or refund.failure_reason != (info.failure_reason or "")[:500]:
            return False
    return True


def apply_stripe_refund(*, refund: Refund, info: RefundInfo, actor: Actor, invoice_id: int, read_at: datetime) -> bool:
    """Update a local refund from Stripe's, read at `read_at`; returns True when something changed.

    Caller holds the lock. Stripe's answers can arrive out of order (two webhooks, a webhook and reconcile):
    the state read last wins, not the one stored last.
    """
    if refund.stripe_synced_at is not None and refund.stripe_synced_at > read_at:
        return False
    refund.stripe_synced_at = read_at
    before = {
        "status": refund.status,
        "stripe_refund_id": refund.stripe_refund_id,
        "failure_reason": refund.failure_reason,
    }
    refund.stripe_refund_id = info.id
    refund.status = info.status if info.status in RefundStatus.values else RefundStatus.PENDING
    refund.failure_reason = (info.failure_reason or "")[:500]
    after = {
        "status": refund.status,
        "stripe_refund_id": refund.stripe_refund_id,
        "failure_reason": refund.failure_reason,
    }
    if after == before:
        Refund.objects.filter(pk=refund.pk).update(stripe_synced_at=read_at)
        return False
    refund.save(update_fields=["stripe_refund_id", "status", "failure_reason", "stripe_synced_at", "updated_at"])
    audit_record(
        organization_id=refund.organization_id,
        actor=actor,
        action=f"refund.{refund.status}",
        obj=refund,
        before=before,
        after=after,
        message=refund.failure_reason,
        invoice_id=invoice_id,
    )
    _issue_requested_credit_note(refund=refund, actor=actor, invoice_id=invoice_id)
    return True


def _create_from_stripe(*, charge: Charge, info: RefundInfo, actor: Actor, read_at: datetime) -> Refund:
    reason = info.reason or info.metadata.get("flexbill_reason") or RefundReason.OTHER
    refund = Refund.objects.create(
        organization_id=charge.organization_id,
        charge=charge,
        amount=info.amount,
        currency=info.currency,
        reason=reason if reason in RefundReason.values else RefundReason.OTHER,
        status=info.status if info.status in RefundStatus.values else RefundStatus.PENDING,
        failure_reason=(info.failure_reason or "")[:500],
        origin=RefundOrigin.STRIPE,
        stripe_refund_id=info.id,
        stripe_synced_at=read_at,
        note="Refunded in Stripe",
    )
    audit_record(
        organization_id=charge.organization_id,
        actor=actor,
        action="refund.synced",
        obj=refund,
        after={"amount": refund.amount, "status": refund.status, "stripe_refund_id": info.id, "origin": "stripe"},
        message="Refund made in Stripe",
        invoice_id=charge.invoice_id,
    )
    return refund


def _issue_requested_credit_note(*, refund: Refund, actor: Actor, invoice_id: int) -> None:
    if not refund.credit_note_requested or refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
        return
    if CreditNote.objects.filter(refund=refund).exists():
        return
    from .credit_notes import credit_note_for_refund

    credit_note_for_refund(refund=refund, actor=actor)
