"""The worker's side of the outbox: take rows, send what each calls for (e-mails, outgoing webhooks), mark them done.

Taking a row is a lease (claimed_until), not a removal: a worker killed after taking a row and before marking it
done leaves it to be taken again once the lease ends, and its e-mails and webhooks go out again with the same
event id (at least once). In normal operation each is sent once: e-mails are claimed per refund and kind
(notifications), and a webhook delivery already attempted is left to its own retries (outgoing).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from flexbill.notifications.services import notify_for_event
from flexbill.outgoing.services import deliver_event

from .models import OutboxEvent

log = logging.getLogger("flexbill.outbox")
MAX_DELAY_SECONDS = 600


@task()
def dispatch_outbox_task() -> dict:
    done, failed = outbox_dispatch_pending()
    return {"done": done, "failed": failed}


def outbox_sweep() -> None:
    """The worker's periodic look: queue a dispatch when rows are due, and only then."""
    if ready_rows(timezone.now()).exists():
        dispatch_outbox_task.enqueue()


def ready_rows(now: datetime):
    return (
        OutboxEvent.objects.filter(processed_at__isnull=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    )


def outbox_dispatch_pending(*, batch_size: int | None = None) -> tuple[int, int]:
    """Dispatch every row that is due, batch after batch; returns (done, to retry)."""
    done = failed = 0
    while True:
        rows = outbox_take(batch_size=batch_size or settings.FLEXBILL_OUTBOX_BATCH_SIZE)
        if not rows:
            return done, failed
        lease = timedelta(seconds=settings.FLEXBILL_OUTBOX_LEASE_SECONDS)
        renew_at = timezone.now() + lease / 2
        for n, row in enumerate(rows):
            if timezone.now() >= renew_at:
                # Slow endpoints (each attempt may take its timeout) must not let the lease of rows still waiting
                # in this batch run out: another worker would send them too.
                renew_at = timezone.now() + lease / 2
                pending = [r.pk for r in rows[n:]]
                OutboxEvent.objects.filter(pk__in=pending).update(claimed_until=timezone.now() + lease)
            if outbox_dispatch(row):
                done += 1
            else:
                failed += 1


def outbox_take(*, batch_size: int) -> list[OutboxEvent]:
    """Take up to batch_size due rows, oldest first, for FLEXBILL_OUTBOX_LEASE_SECONDS. SKIP LOCKED on PostgreSQL
    lets several workers take rows side by side; SQLite serializes the take with its write lock."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(ready_rows(now).select_for_update(skip_locked=True).order_by("id")[:batch_size])
        if rows:
            lease = now + timedelta(seconds=settings.FLEXBILL_OUTBOX_LEASE_SECONDS)
            OutboxEvent.objects.filter(pk__in=[r.pk for r in rows]).update(claimed_until=lease)
    return rows


def outbox_dispatch(row: OutboxEvent) -> bool:
    """Send what one row calls for, then mark it done. A failure (the mail server down) is tried again later.

    Webhooks first: a failed attempt at one is left to the delivery's own retries, so a mail server that is down
    holds up the row's e-mail only, and the row's next try sends nothing to integrators again."""
    try:
        deliver_event(row)
        notify_for_event(row)
    except Exception as exc:
        log.exception("Outbox event %s (%s) could not be dispatched", row.event_id, row.type)
        row.attempts += 1
        now = timezone.now()
        given_up = row.attempts >= settings.FLEXBILL_OUTBOX_MAX_ATTEMPTS
        delay = timedelta(seconds=min(5 * 2 ** (row.attempts - 1), MAX_DELAY_SECONDS))
        OutboxEvent.objects.filter(pk=row.pk).update(
            attempts=row.attempts,
            next_attempt_at=None if given_up else now + delay,
            processed_at=now if given_up else None,
            claimed_until=None,
            last_error=f"{type(exc).__name__}: {exc}"[:1000],
        )
        return False
    OutboxEvent.objects.filter(pk=row.pk).update(processed_at=timezone.now(), claimed_until=None)
    return True


def outbox_prune(*, now: datetime) -> int:
    """Rows sent more than FLEXBILL_OUTBOX_RETENTION_DAYS ago decide nothing any more."""
    cutoff = now - timedelta(days=settings.FLEXBILL_OUTBOX_RETENTION_DAYS)
    deleted, _ = OutboxEvent.objects.filter(processed_at__lt=cutoff).delete()
    return deleted
