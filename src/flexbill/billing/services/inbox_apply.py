"""The worker's side of the inbox: claim verified Stripe events in batches, read each named charge's refunds
from Stripe once per batch, apply them set-based (apply.py), and retry with backoff what cannot be applied yet.

Events are payloads that may be stale, duplicated or out of order, so none is trusted: an event only says
"this charge changed", and the charge's refunds are read from Stripe as they are now.
"""

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from flexbill.accounts.models import Organization
from flexbill.accounts.permissions import Permission
from flexbill.audit.services import STRIPE, Actor, audit_record
from flexbill.bulk_sql import rows_update
from flexbill.choices import IGNORED_OUTCOME
from flexbill.errors import Conflict
from flexbill.stripe_gateway.client import gateway_for
from flexbill.stripe_gateway.keys import key_mode
from flexbill.stripe_gateway.signature import NotAnEvent, event_from_json
from flexbill.stripe_gateway.types import RefundInfo, StripeEvent, StripeGatewayError

from .. import rules
from ..models import Refund, WebhookEvent
from ..selectors import charges_named_by_stripe
from .apply import ChargeRefunds, charges_apply_stripe_refunds, refunds_in_sync

log = logging.getLogger("flexbill.inbox")
EVENT_FIELDS = ["processed_at", "outcome", "last_error", "attempts", "next_attempt_at", "claimed_until"]


@dataclass
class InboxReport:
    batches: int = 0
    claimed: int = 0
    applied: int = 0
    ignored: int = 0
    retrying: int = 0
    failed: int = 0
    stripe_reads: int = 0


def inbox_apply_pending(*, batch_size: int | None = None, max_batches: int | None = None) -> InboxReport:
    """Apply every inbox event that is ready, batch after batch, until none is left (or max_batches)."""
    report = InboxReport()
    while max_batches is None or report.batches < max_batches:
        claim_started = time.perf_counter()
        events = inbox_claim(batch_size=batch_size or settings.FLEXBILL_INBOX_BATCH_SIZE)
        log.debug("Claimed %s event(s) in %.3f s", len(events), time.perf_counter() - claim_started)
        if not events:
            break
        report.batches += 1
        report.claimed += len(events)
        by_org = defaultdict(list)
        for event in events:
            by_org[event.organization_id].append(event)
        # Each organization once per batch: its stored secrets are decrypted on load.
        for organization in Organization.objects.filter(pk__in=list(by_org)):
            _apply_events(organization, by_org[organization.pk], report)
    return report


def ready_events(now: datetime):
    """Verified, not applied, due (never tried, or its retry time has come), and held by no live worker."""
    return (
        WebhookEvent.objects.filter(verified=True, processed_at__isnull=True)
        .filter(Q(attempts=0) | Q(next_attempt_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    )


def inbox_claim(*, batch_size: int) -> list[WebhookEvent]:
    """Claim up to batch_size ready events for this worker until the lease ends.

    On PostgreSQL, SKIP LOCKED lets several workers claim side by side without waiting on each other; SQLite
    serializes the claim with its write lock. A worker that dies holding a claim releases it when the lease
    ends: its events are claimed again, and applying is idempotent.
    """
    now = timezone.now()
    with transaction.atomic():
        events = list(ready_events(now).select_for_update(skip_locked=True, of=("self",)).order_by("id")[:batch_size])
        if events:
            lease = now + timedelta(seconds=settings.FLEXBILL_INBOX_LEASE_SECONDS)
            WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).update(claimed_until=lease)
    return events


def _apply_events(organization: Organization, events: list[WebhookEvent], report: InboxReport) -> None:
    """One organization's events of a batch: settle each, writing the domain changes in one transaction."""
    now = timezone.now()
    targets: list[tuple[WebhookEvent, StripeEvent]] = []
    for event in events:
        try:
            parsed = event_from_json(json.loads(event.body))
        except (ValueError, RecursionError, NotAnEvent):
            _done(event, now, IGNORED_OUTCOME + "the stored body is not a Stripe event.", report)
            continue
        ignored = rules.inbox_ignore_reason(
            event_type=parsed.type,
            sync_enabled=organization.refund_sync_enabled,
            account=parsed.account,
            livemode=parsed.livemode,
            key_mode=key_mode(organization.stripe_secret_key),
        )
        if ignored is None and not (parsed.charge_id or parsed.payment_intent_id):
            ignored = "The event names no charge or PaymentIntent."
        if ignored:
            _done(event, now, IGNORED_OUTCOME + ignored, report)
        else:
            targets.append((event, parsed))

    charge_of = charges_named_by_stripe(
        organization=organization,
        charge_ids={p.charge_id for _, p in targets},
        intent_ids={p.payment_intent_id for _, p in targets},
    )
    by_charge: dict[int, list[WebhookEvent]] = defaultdict(list)
    names: dict[int, tuple[str | None, str | None]] = {}
    for event, parsed in targets:
        charge = charge_of(parsed.charge_id, parsed.payment_intent_id)
        if charge is None:
            _unknown_charge(event, parsed, now, report)
            continue
        by_charge[charge.pk].append(event)
        # Found by its PaymentIntent, the charge may not have Stripe's charge id stored yet: use the event's.
        names.setdefault(
            charge.pk,
            (
                charge.stripe_charge_id or parsed.charge_id,
                charge.stripe_payment_intent_id or parsed.payment_intent_id,
            ),
        )

    read_at = timezone.now()
    started = time.perf_counter()
    snapshots, unreadable = _read_stripe(organization, names, report)
    read = time.perf_counter()
    for charge_id, error in unreadable.items():
        for event in by_charge.pop(charge_id):
            _retry(event, now, f"Stripe could not be read: {error}", report)
    _apply_snapshots(snapshots, by_charge, read_at, report)
    log.debug(
        "%s: %s event(s), %s charge(s) read from Stripe in %.3f s, applied in %.3f s",
        organization.slug,
        len(events),
        len(names),
        read - started,
        time.perf_counter() - read,
    )


def _read_stripe(organization, names: dict, report: InboxReport):
    """Each charge's refunds, read once however many events of the batch name it; Stripe's errors per charge."""
    snapshots: dict[int, list[RefundInfo]] = {}
    unreadable: dict[int, str] = {}
    if not names:
        return snapshots, unreadable
    try:
        gateway = gateway_for(organization)
    except StripeGatewayError as exc:
        return snapshots, dict.fromkeys(names, exc.message)

    def read(item):
        charge_id, (stripe_charge_id, intent_id) = item
        try:
            return charge_id, gateway.refunds_for(charge_id=stripe_charge_id, payment_intent_id=intent_id), None
        except StripeGatewayError as exc:
            return charge_id, None, exc.message

    with ThreadPoolExecutor(max_workers=settings.FLEXBILL_INBOX_STRIPE_READERS) as pool:
        for charge_id, refunds, error in pool.map(read, names.items()):
            report.stripe_reads += 1
            if error is None:
                snapshots[charge_id] = refunds
            else:
                unreadable[charge_id] = error
    return snapshots, unreadable


def _apply_snapshots(snapshots: dict, by_charge: dict, read_at: datetime, report: InboxReport) -> None:
    now = timezone.now()
    local = defaultdict(list)
    for refund in Refund.objects.filter(charge_id__in=list(snapshots)):
        local[refund.charge_id].append(refund)
    changed = []
    for charge_id, refunds in snapshots.items():
        if refunds_in_sync(local[charge_id], refunds):  # nothing to lock or write for this charge
            for event in by_charge[charge_id]:
                _done(event, now, "In step with Stripe.", report)
        else:
            changed.append(ChargeRefunds(charge_id=charge_id, refunds=refunds))
    if not changed:
        return
    try:
        with transaction.atomic():
            result = charges_apply_stripe_refunds(snapshots=changed, read_at=read_at, actor=STRIPE)
            _settle(result, changed, by_charge, now, report)
            _save([e for s in changed for e in by_charge[s.charge_id]])
        return
    except Exception:  # one charge must not hold up the others: apply them one at a time
        log.exception("Applying a batch of %s charge(s) failed; applying them one by one", len(changed))
    for snapshot in changed:  # forget what the rolled-back attempt decided
        for event in by_charge[snapshot.charge_id]:
            event.refresh_from_db(fields=EVENT_FIELDS)
    for snapshot in changed:
        events = by_charge[snapshot.charge_id]
        try:
            with transaction.atomic():
                result = charges_apply_stripe_refunds(snapshots=[snapshot], read_at=read_at, actor=STRIPE)
                _settle(result, [snapshot], by_charge, now, report)
                _save(events)
        except Exception as exc:
            log.exception("Applying charge %s failed", snapshot.charge_id)
            for event in events:
                _retry(event, now, f"{type(exc).__name__}: {exc}", report)


def _settle(result, snapshots: list[ChargeRefunds], by_charge: dict, now: datetime, report: InboxReport) -> None:
    for snapshot in snapshots:
        outcome = result.charges.get(snapshot.charge_id)
        for event in by_charge[snapshot.charge_id]:
            if outcome is None:
                _retry(event, now, f"Charge {snapshot.charge_id} was not found.", report, save=False)
            elif outcome.error:
                _retry(event, now, outcome.error, report, save=False)
            else:
                _done(event, now, f"Charge {snapshot.charge_id}: {outcome.describe()}", report, save=False)


def _done(event: WebhookEvent, now: datetime, outcome: str, report: InboxReport, *, save: bool = True) -> None:
    event.processed_at, event.outcome, event.last_error = now, outcome[:500], ""
    event.next_attempt_at = event.claimed_until = None
    if outcome.startswith(IGNORED_OUTCOME):
        report.ignored += 1
    else:
        report.applied += 1
    if save:
        _save([event])


def _retry(event: WebhookEvent, now: datetime, error: str, report: InboxReport, *, save: bool = True) -> None:
    """Try again later with backoff; once the attempts are used up the event is failed (visible, retryable)."""
    event.attempts += 1
    event.last_error = error[:5000]
    event.claimed_until = None
    if event.attempts >= settings.FLEXBILL_INBOX_MAX_ATTEMPTS:
        event.next_attempt_at = None
        report.failed += 1
    else:
        event.next_attempt_at = now + rules.inbox_retry_delay(event.attempts)
        report.retrying += 1
    if save:
        _save([event])


def _unknown_charge(event: WebhookEvent, parsed: StripeEvent, now: datetime, report: InboxReport) -> None:
    """A charge flexbill does not know may be one it is still recording: wait a little, then let it be."""
    names = " / ".join(n for n in (parsed.charge_id, parsed.payment_intent_id) if n)
    if event.attempts + 1 >= settings.FLEXBILL_INBOX_UNKNOWN_CHARGE_ATTEMPTS:
        event.attempts += 1
        _done(event, now, IGNORED_OUTCOME + f"charge not known to flexbill ({names}).", report)
    else:
        _retry(event, now, f"No charge in flexbill for {names} yet.", report)


def _save(events: list[WebhookEvent]) -> None:
    rows_update(WebhookEvent, events, EVENT_FIELDS)


def inbox_event_retry(*, event: WebhookEvent, actor: Actor, on_retry: Callable[[], None] | None = None) -> WebhookEvent:
    """Make an unapplied event due now (a failed one gets one more attempt), audited; `on_retry` after commit."""
    actor.require(Permission.INVOICES_MANAGE, organization_id=event.organization_id)
    if event.processed_at is not None:
        raise Conflict("This Stripe event is already applied; there is nothing to retry.", code="already_applied")
    now = timezone.now()
    with transaction.atomic():
        changed = WebhookEvent.objects.filter(pk=event.pk, processed_at__isnull=True).update(
            next_attempt_at=now, claimed_until=None
        )
        if not changed:
            raise Conflict("This Stripe event is already applied; there is nothing to retry.", code="already_applied")
        audit_record(
            organization_id=event.organization_id,
            actor=actor,
            action="stripe_event.retried",
            obj=event,
            before={"attempts": event.attempts, "last_error": event.last_error[:500]},
            message=f"Retry of Stripe event {event.event_id} ({event.event_type}) asked for",
        )
        if on_retry is not None:
            transaction.on_commit(on_retry)
    event.refresh_from_db()
    return event
