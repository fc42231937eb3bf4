"""Background work (django-tasks): applying the Stripe inbox, and the periodic reconcile of each organization."""

import logging
import time

from django.conf import settings
from django.utils import timezone
from django_tasks import task
from django_tasks_db.backend import DatabaseBackend

from flexbill.accounts.models import Organization

from .services.inbox import rejected_deliveries_prune
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


def enqueue_reconcile_all() -> int:
    """Queue every organization's reconcile; also the moment to drop rejected webhook deliveries past retention."""
    rejected_deliveries_prune()
    count = 0
    for org_id in (
        Organization.objects.filter(refund_sync_enabled=True).exclude(stripe_secret_key="").values_list("pk", flat=True)
    ):
        reconcile_organization_task.enqueue(org_id)
        count += 1
    return count
