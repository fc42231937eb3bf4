"""Background work (django-tasks): applying the Stripe inbox, and the periodic reconcile of each organization."""

import logging

from django_tasks import default_task_backend, task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from flexbill.accounts.models import Organization

from .services.inbox import rejected_deliveries_prune
from .services.inbox_apply import inbox_apply_pending
from .services.reconcile import reconcile_organization

log = logging.getLogger("flexbill.reconcile")


@task()
def apply_inbox_task() -> dict:
    report = inbox_apply_pending()
    if report.retrying or report.failed:
        log.info("Inbox: %s", report)
    return {"applied": report.applied, "ignored": report.ignored, "retrying": report.retrying}


def inbox_apply_soon() -> None:
    """Queue the inbox's apply, unless one is already queued and not started: that one will see every event
    stored before now, so a burst of deliveries queues a handful of applies, not one each."""
    if isinstance(default_task_backend, DatabaseBackend):
        queued = DBTaskResult.objects.ready().filter(task_path=apply_inbox_task.module_path)
        if queued.exists():
            return
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
