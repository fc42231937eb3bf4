"""Background work (django-tasks): the periodic reconcile of every organization whose sync is on."""

import logging

from django_tasks import task

from flexbill.accounts.models import Organization

from .reconcile import reconcile_organization

log = logging.getLogger("flexbill.reconcile")


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
    count = 0
    for org_id in (
        Organization.objects.filter(refund_sync_enabled=True).exclude(stripe_secret_key="").values_list("pk", flat=True)
    ):
        reconcile_organization_task.enqueue(org_id)
        count += 1
    return count
