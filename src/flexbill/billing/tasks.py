"""Background work (django-tasks): applying the Stripe inbox, and the periodic reconcile of each organization."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task
from django_tasks_db.backend import DatabaseBackend

from flexbill.accounts.models import Organization

from .services.inbox_apply import inbox_apply_pending, ready_events
from .services.reconcile import reconcile_organization

log = logging.getLogger("flexbill.reconcile")


@task()
def apply_inbox_task() -> dict:
    report = inbox_apply_pending()
    if report.retrying or report.failed:
        log.info("Inbox: %s", report)
    return {"applied": report.applied, "ignored": report.ignored, "retrying": report.retrying}


_last_queued = [float("-inf")]


def inbox_apply_soon() -> None:
    """Queue the inbox's apply after a delivery is stored.

    With the database backend a process queues at most one apply per FLEXBILL_INBOX_QUEUE_COALESCE_SECONDS: during
    a burst every delivery would otherwise queue an apply of its own, while one apply takes every event stored
    before it starts. An event stored just after an apply began is taken by the next one queued, or by the
    worker's sweep (inbox_sweep) at the latest.
    """
    if isinstance(apply_inbox_task.get_backend(), DatabaseBackend):
        now = time.monotonic()
        if now - _last_queued[0] < settings.FLEXBILL_INBOX_QUEUE_COALESCE_SECONDS:
            return
        _last_queued[0] = now
    apply_inbox_task.enqueue()


def inbox_sweep() -> None:
    """The worker's periodic look: queue an apply when events are due (a retry's time has come, or an event
    stored just after an apply began), and only then."""
    if ready_events(timezone.now()).exists():
        apply_inbox_task.enqueue()


@task()
def reconcile_organization_task(organization_id: int) -> dict:
    organization = Organization.objects.get(pk=organization_id)
    if not organization.refund_sync_enabled or not organization.stripe_secret_key:
        return {"skipped": True}
    report = reconcile_organization(organization)
    if report.changed or report.errors:
        log.info("Reconciled %s: %s", organization.slug, report)
    return {"changed": report.changed, "errors": report.errors}


def enqueue_reconcile_all(*, interval: float | None = None) -> int:
    """Queue the reconcile of every organization with sync on and a Stripe key whose turn has come, and return how
    many were queued.

    Every worker calls this each interval (seconds; FLEXBILL_RECONCILE_INTERVAL unless given). An organization's
    turn is taken by one conditional UPDATE moving its reconcile_due_at an interval forward: of workers looking at
    once, only the one whose UPDATE changed the row queues its reconcile, so it is queued once per interval however
    many workers run. The turn and the queued task are one transaction: a task that could not be queued gives the
    turn back.
    """
    now = timezone.now()
    next_due = now + timedelta(seconds=settings.FLEXBILL_RECONCILE_INTERVAL if interval is None else interval)
    due = Q(reconcile_due_at__isnull=True) | Q(reconcile_due_at__lte=now)
    count = 0
    for org_id in (
        Organization.objects.filter(due, refund_sync_enabled=True)
        .exclude(stripe_secret_key="")
        .values_list("pk", flat=True)
    ):
        with transaction.atomic():
            if Organization.objects.filter(due, pk=org_id).update(reconcile_due_at=next_due):
                reconcile_organization_task.enqueue(org_id)
                count += 1
    return count
