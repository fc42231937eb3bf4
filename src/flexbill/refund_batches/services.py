"""Bulk refund writes: queue a batch (refused whole before anything is sent), and run it (docs/rules.md, rule 22)."""

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from flexbill.accounts.models import Membership, Organization
from flexbill.accounts.permissions import Permission
from flexbill.audit.services import SYSTEM, Actor, audit_record
from flexbill.billing.idempotency import idempotency_key_check, request_fingerprint, same_request_check
from flexbill.billing.models import Charge, Refund
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.billing.services.refunds import MAX_NOTE, refund_create, refund_settle
from flexbill.choices import RefundBatchAmount, RefundBatchItemStatus, RefundBatchStatus, RefundReason, RefundStatus
from flexbill.errors import Conflict, InvalidInput, NotFound, StripeFailed

from . import rules
from .models import RefundBatch, RefundBatchItem

log = logging.getLogger("flexbill.refund_batches")

# A worker runs a batch this long at a time, then queues the rest: one long batch never holds up the Stripe inbox,
# e-mails and outgoing webhooks that run on the same worker.
RUN_SECONDS = 5.0


def refund_batch_create(
    *,
    actor: Actor,
    charge_ids: list,
    percent: object = None,
    reason: str = RefundReason.REQUESTED_BY_CUSTOMER,
    note: str = "",
    on_queued=None,
    idempotency_key: str | None = None,
    request_body: dict | None = None,
) -> RefundBatch:
    """Queue a refund of `charge_ids` (percent None: in full; else that whole percent of each charge).

    The batch is refused whole before anything is sent: without refund permission (403), with no charge, more than
    rules.MAX_CHARGES, a charge named twice or a bad amount (400), a charge of another organization (404), or a
    charge still in an unfinished batch (409).
    `idempotency_key`: a request repeating it answers with the batch the first one queued, and queues nothing; it
    must be the same request (`request_body`, the API's JSON body as received; without one, the arguments), or it
    is refused (409 idempotency_key_reused).
    `on_queued(batch)` runs after commit: it queues the worker's first run, with the batch's claim_token.
    """
    actor.require(Permission.CHARGES_REFUND, refusal=Refusal.PERMISSION_DENIED.sentence)
    if actor.membership_id is None:  # whose permissions would each item be refunded with?
        raise RefundRefused(Refusal.PERMISSION_DENIED)
    ids = _charge_ids(charge_ids)
    if percent is not None and (type(percent) is not int or not 1 <= percent <= 100):
        raise InvalidInput("percent must be a whole number from 1 to 100.", code="percent_invalid")
    if reason not in RefundReason.values:
        raise InvalidInput(f"reason must be one of {', '.join(RefundReason.values)}.", code="reason_invalid")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"note must be at most {MAX_NOTE} characters.", code="note_invalid")
    idempotency_key_check(idempotency_key)
    if request_body is None:
        request_body = {"charges": ids, "percent": percent, "reason": reason, "note": note}
    fingerprint = request_fingerprint(None, request_body)
    # Before the charges are checked: a retry of a batch still running would find them in it (charge_in_batch).
    existing = _batch_for_key(actor.organization_id, idempotency_key)
    if existing is not None:
        return _replay(existing, fingerprint)
    organization = Organization.objects.get(pk=actor.organization_id)
    found = set(Charge.objects.filter(organization=organization, pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" …" if len(missing) > 10 else "")
        raise NotFound(f"No such charge: {shown}. Nothing was refunded.", code="charge_not_found")

    try:
        with transaction.atomic():
            # Two batches started at once with a charge in common (a double click, two people): the charge rows are
            # locked, so the second waits, then sees the first's items and is refused (SQLite: one writer at a time).
            list(Charge.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk").values_list("pk"))
            # The same request sent twice at once (a client's retry of a timed-out POST) waited here for the first:
            # answer with its batch rather than refuse its charges as taken by it.
            existing = _batch_for_key(organization.pk, idempotency_key)
            if existing is not None:
                return _replay(existing, fingerprint)
            _refuse_charges_in_unfinished_batches(ids)
            batch = RefundBatch.objects.create(
                organization=organization,
                membership_id=actor.membership_id,
                created_by_id=actor.user_id,
                amount_mode=RefundBatchAmount.FULL if percent is None else RefundBatchAmount.PERCENT,
                percent=percent,
                reason=reason,
                note=note,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
                status=RefundBatchStatus.QUEUED,
                # Held for the run queued below (on_queued); if it never runs, the batch is due once this ends.
                claim_token=uuid.uuid4(),
                claimed_until=timezone.now() + timedelta(seconds=settings.FLEXBILL_REFUND_BATCH_LEASE_SECONDS),
            )
            RefundBatchItem.objects.bulk_create(
                RefundBatchItem(batch=batch, position=n, charge_id=charge_id) for n, charge_id in enumerate(ids, 1)
            )
            audit_record(
                organization_id=organization.pk,
                actor=actor,
                action="refund_batch.queued",
                obj=batch,
                after={"status": batch.status, "total": len(ids), "amount": amount_label(batch), "reason": reason},
                message=note,
            )
            if on_queued is not None:
                transaction.on_commit(lambda: on_queued(batch))
    except IntegrityError:
        # The same key raced in without sharing a charge lock with this request (refund_batch_idempotency_key_unique
        # refused the second insert): answer with the first one's batch, or 409 if it asked something else.
        existing = _batch_for_key(organization.pk, idempotency_key)
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    return batch


def _batch_for_key(organization_id: int, idempotency_key: str | None) -> RefundBatch | None:
    if idempotency_key is None:
        return None
    return RefundBatch.objects.filter(organization_id=organization_id, idempotency_key=idempotency_key).first()


def _replay(existing: RefundBatch, fingerprint: str) -> RefundBatch:
    """The batch a repeated request queued, as it stands now; nothing is queued again (its worker runs it)."""
    same_request_check(existing.request_fingerprint, fingerprint)
    return existing


def _refuse_charges_in_unfinished_batches(ids: list[int]) -> None:
    """A charge is in one unfinished batch at a time: a second batch of the same charges, started before the first
    is done, is a double submission far more often than a wish to refund twice."""
    busy = (
        RefundBatchItem.objects.filter(charge_id__in=ids)
        .exclude(batch__status=RefundBatchStatus.DONE)
        .values_list("batch_id", "charge_id")
        .order_by("batch_id", "charge_id")
    )
    taken = list(busy[:11])
    if taken:
        batch_id = taken[0][0]
        charges = ", ".join(str(charge_id) for _, charge_id in taken[:10]) + (" …" if len(taken) > 10 else "")
        raise Conflict(
            f"Refund batch {batch_id} is still refunding charge {charges}; wait until it is done.",
            code="charge_in_batch",
        )


def _charge_ids(charge_ids: object) -> list[int]:
    if not isinstance(charge_ids, list) or not charge_ids:
        raise InvalidInput("charges must list at least one charge id.", code="charges_empty")
    if len(charge_ids) > rules.MAX_CHARGES:
        raise InvalidInput(
            f"A batch refunds at most {rules.MAX_CHARGES} charges; this one names {len(charge_ids)}. "
            "Split it into several batches.",
            code="too_many_charges",
        )
    if any(type(i) is not int or i < 1 for i in charge_ids):
        raise InvalidInput("charges must be charge ids (whole numbers from 1).", code="charges_invalid")
    if len(set(charge_ids)) != len(charge_ids):
        twice = sorted({i for i in charge_ids if charge_ids.count(i) > 1})[:10]
        raise InvalidInput(
            f"Each charge may be named once; named more than once: {', '.join(map(str, twice))}.",
            code="charges_duplicate",
        )
    return list(charge_ids)


def amount_label(batch: RefundBatch) -> str:
    return RefundBatchAmount.FULL.value if batch.amount_mode == RefundBatchAmount.FULL else f"{batch.percent}%"


# Running ------------------------------------------------------------------------------------------------------


def refund_batch_claim(*, batch_id: int, token: str | None, now: datetime | None = None) -> str | None:
    """Take the batch for this worker: a new claim when nobody holds it (or the holder's lease ended: it died), or
    the hand-over `token` a previous run of this batch queued. Returns the claim's token, or None (not ours)."""
    now = now or timezone.now()
    with transaction.atomic():
        batch = RefundBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status == RefundBatchStatus.DONE:
            return None
        held = batch.claimed_until is not None and batch.claimed_until >= now
        if held and (token is None or str(batch.claim_token) != token):
            return None
        before = batch.status
        batch.claim_token = uuid.uuid4()
        batch.claimed_until = now + timedelta(seconds=settings.FLEXBILL_REFUND_BATCH_LEASE_SECONDS)
        batch.status = RefundBatchStatus.RUNNING
        batch.started_at = batch.started_at or now
        batch.save(update_fields=["claim_token", "claimed_until", "status", "started_at"])
        if before != RefundBatchStatus.RUNNING:
            _audit_batch(batch, action="refund_batch.running", before=before)
        elif not held:
            # Its worker stopped mid-batch (crash, restart): this one carries on where it stopped.
            _audit_batch(batch, action="refund_batch.resumed", before=before)
    return str(batch.claim_token)


def refund_batch_run(*, batch_id: int, token: str | None = None, on_more=None, seconds: float = RUN_SECONDS) -> bool:
    """Run the batch's pending items for about `seconds`; then `on_more(batch_id, token)` queues the rest.

    Each item is an ordinary refund with the requester's permissions and an idempotency key derived from the batch
    and the charge, so an item run again (after a crash, by a resumed batch) finds its refund instead of making a
    second one. Returns True when the batch is done.
    """
    token = refund_batch_claim(batch_id=batch_id, token=token)
    if token is None:
        return False
    batch = RefundBatch.objects.select_related("organization").get(pk=batch_id)
    membership = (
        Membership.objects.select_related("user", "organization", "custom_role").filter(pk=batch.membership_id).first()
    )
    deadline = time.monotonic() + seconds
    pending = (
        batch.items.filter(status=RefundBatchItemStatus.PENDING)
        .select_related("charge__organization")
        .order_by("position")
    )
    for n, item in enumerate(list(pending)):
        if n and time.monotonic() > deadline:  # at least one item per run, so every run moves the batch on
            if _hand_over(batch, token) and on_more is not None:
                on_more(batch.pk, token)
            return False
        if not _renew(batch, token):
            return False  # another worker took the batch over: it runs the rest
        _run_item(batch=batch, item=item, actor=None if membership is None else Actor.for_membership(membership))
    return _finish(batch, token)


def _run_item(*, batch: RefundBatch, item: RefundBatchItem, actor: Actor | None) -> None:
    """One item, counted as an attempt before it is tried; an item already tried
    FLEXBILL_REFUND_BATCH_ITEM_MAX_ATTEMPTS times (each ended in an unexpected error, or its worker died) is not
    tried again but settled from what its idempotency key finds, so it never holds up the rest of the batch."""
    if not _attempt_begin(item):
        if item.status == RefundBatchItemStatus.PENDING:
            _item_give_up(batch, item)
        return
    try:
        _item_try(batch=batch, item=item, actor=actor)
    except Exception:
        # Not a refusal, nor Stripe's or a conflict's answer: a bug, a database error. The run stops here; the
        # batch is resumed once its lease ends and the item tried again, until its attempts are spent.
        log.exception(
            "Refund batch %s: charge %s ended in an unexpected error (attempt %s of %s).",
            batch.pk,
            item.charge_id,
            item.attempts,
            settings.FLEXBILL_REFUND_BATCH_ITEM_MAX_ATTEMPTS,
        )
        raise


def _attempt_begin(item: RefundBatchItem) -> bool:
    """Count an attempt at the pending item, in a statement of its own committed before the item is tried (so a
    crash during the try still counts). False, with the item read again, when it is no longer pending or its
    attempts are spent."""
    with transaction.atomic():
        counted = RefundBatchItem.objects.filter(
            pk=item.pk,
            status=RefundBatchItemStatus.PENDING,
            attempts__lt=settings.FLEXBILL_REFUND_BATCH_ITEM_MAX_ATTEMPTS,
        ).update(attempts=F("attempts") + 1)
    if counted:
        item.attempts += 1
        return True
    item.refresh_from_db(fields=["status", "attempts"])
    return False


def _item_give_up(batch: RefundBatch, item: RefundBatchItem) -> None:
    """Its attempts are spent: record it by the refund its key made, if any (money may have moved: the item is what
    that refund is, as after a normal run), else as failed with nothing refunded."""
    key = item_idempotency_key(batch, item.charge_id)
    refund = Refund.objects.filter(organization_id=batch.organization_id, idempotency_key=key).first()
    if refund is not None:
        return _item_record_refund(batch, item, refund)
    detail = (
        f"flexbill stopped trying to refund this charge after {item.attempts} attempts that ended in an unexpected "
        "error. No refund was made."
    )
    return _item_record(batch, item, status=RefundBatchItemStatus.FAILED, detail=detail)


def _item_try(*, batch: RefundBatch, item: RefundBatchItem, actor: Actor | None) -> None:
    """One item, refunded by the requester with the permissions their membership holds now (none once removed)."""
    charge = item.charge
    if actor is None or not actor.may(Permission.CHARGES_REFUND, organization_id=batch.organization_id):
        return _item_record(
            batch, item, status=RefundBatchItemStatus.REFUSED, detail=Refusal.PERMISSION_DENIED.sentence
        )
    amount = None if batch.amount_mode == RefundBatchAmount.FULL else rules.percent_amount(charge.amount, batch.percent)
    if amount == 0:
        return _item_record(
            batch, item, status=RefundBatchItemStatus.REFUSED, detail=rules.percent_refusal_detail(batch.percent)
        )
    key = item_idempotency_key(batch, charge.pk)
    try:
        refund = refund_create(
            actor=actor,
            charge=charge,
            amount=amount,
            reason=batch.reason,
            note=batch.note,
            idempotency_key=key,
        )
        if refund.status == RefundStatus.REQUESTED:
            # Found again after this batch's worker died between recording the refund and hearing from Stripe (the
            # batch's lease has ended, so that worker is gone): adopt Stripe's refund, or send it now, once.
            refund = refund_settle(refund=refund, resend=True, actor=actor)
    except RefundRefused as exc:
        return _item_record(batch, item, status=RefundBatchItemStatus.REFUSED, detail=exc.detail)
    except (StripeFailed, Conflict) as exc:
        refund = Refund.objects.filter(organization_id=batch.organization_id, idempotency_key=key).first()
        return _item_record(batch, item, status=RefundBatchItemStatus.FAILED, detail=exc.detail, refund=refund)
    return _item_record_refund(batch, item, refund)


def _item_record_refund(batch: RefundBatch, item: RefundBatchItem, refund: Refund) -> None:
    """The item is what its refund is (rules.item_status); a failed refund says why."""
    status = rules.item_status(refund.status)
    detail = ""
    if status == RefundBatchItemStatus.FAILED:
        detail = refund.failure_reason or "Stripe did not refund this charge."
    return _item_record(batch, item, status=status, detail=detail, refund=refund)


def item_idempotency_key(batch: RefundBatch, charge_id: int) -> str:
    return f"refund-batch-{batch.reference}-charge-{charge_id}"


def _item_record(batch: RefundBatch, item: RefundBatchItem, *, status: str, detail: str, refund=None) -> None:
    with transaction.atomic():
        changed = RefundBatchItem.objects.filter(pk=item.pk, status=RefundBatchItemStatus.PENDING).update(
            status=status, detail=detail[:1000], refund=refund, updated_at=timezone.now()
        )
        if not changed:
            return
        item.status, item.detail, item.refund = status, detail[:1000], refund
        audit_record(
            organization_id=batch.organization_id,
            actor=SYSTEM,
            action=f"refund_batch.item_{status}",
            obj=item,
            before={"status": RefundBatchItemStatus.PENDING},
            after={
                "batch": batch.pk,
                "charge": item.charge_id,
                "status": status,
                "refund": refund.pk if refund else None,
            },
            message=detail,
            invoice_id=item.charge.invoice_id,
        )


def _renew(batch: RefundBatch, token: str) -> bool:
    until = timezone.now() + timedelta(seconds=settings.FLEXBILL_REFUND_BATCH_LEASE_SECONDS)
    return bool(RefundBatch.objects.filter(pk=batch.pk, claim_token=token).update(claimed_until=until))


def _hand_over(batch: RefundBatch, token: str) -> bool:
    """Keep the claim for the run this one queues (same token), for as long as a lease."""
    return _renew(batch, token)


def _finish(batch: RefundBatch, token: str) -> bool:
    with transaction.atomic():
        locked = RefundBatch.objects.select_for_update().filter(pk=batch.pk, claim_token=token).first()
        if locked is None or locked.status == RefundBatchStatus.DONE:
            return False
        if locked.items.filter(status=RefundBatchItemStatus.PENDING).exists():
            return False
        now = timezone.now()
        locked.status = RefundBatchStatus.DONE
        locked.finished_at = now
        locked.claimed_until = None
        locked.save(update_fields=["status", "finished_at", "claimed_until"])
        _audit_batch(locked, action="refund_batch.done", before=RefundBatchStatus.RUNNING, counts=True)
    return True


def _audit_batch(batch: RefundBatch, *, action: str, before: str, counts: bool = False) -> None:
    after = {"status": batch.status}
    if counts:
        after.update(batch_counts(batch))
    audit_record(
        organization_id=batch.organization_id,
        actor=SYSTEM,
        action=action,
        obj=batch,
        before={"status": before},
        after=after,
    )


def batch_counts(batch: RefundBatch) -> dict:
    """total, and how many items succeeded, were refused, failed, await approval (pending ones are still to run)."""
    figures = batch.items.aggregate(
        total=Count("pk"),
        succeeded=Count("pk", filter=Q(status=RefundBatchItemStatus.SUCCEEDED)),
        refused=Count("pk", filter=Q(status=RefundBatchItemStatus.REFUSED)),
        failed=Count("pk", filter=Q(status=RefundBatchItemStatus.FAILED)),
        awaiting_approval=Count("pk", filter=Q(status=RefundBatchItemStatus.AWAITING_APPROVAL)),
    )
    return figures


def refund_batches_due(now: datetime | None = None) -> list[int]:
    """Unfinished batches nobody holds: their worker died, or their first run was never queued."""
    now = now or timezone.now()
    return list(
        RefundBatch.objects.exclude(status=RefundBatchStatus.DONE)
        .filter(Q(claimed_until__lt=now) | Q(claimed_until__isnull=True))
        .values_list("pk", flat=True)
    )
