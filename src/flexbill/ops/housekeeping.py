"""Periodic clean-up run by the worker: rows that anonymous traffic creates and finished background-task results are
kept only as long as they matter, and refunds that waited too long for approval expire."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flexbill.accounts.action_limits import action_counts_prune
from flexbill.accounts.sign_in.throttle import sign_in_counts_prune
from flexbill.billing.services.approvals import refund_approvals_expire
from flexbill.billing.services.inbox import rejected_deliveries_prune
from flexbill.outbox.dispatch import outbox_prune

TASK_RESULTS_PRUNE_BATCH = 1000


def housekeeping() -> dict[str, int]:
    now = timezone.now()
    return {
        "rejected_webhook_deliveries": rejected_deliveries_prune(now=now),
        "sign_in_counts": sign_in_counts_prune(now=now),
        "action_counts": action_counts_prune(now=now),
        "outbox_events": outbox_prune(now=now),
        "task_results": task_results_prune(now=now),
        # Refunds that waited for approval too long: canceled, their amounts released.
        "refund_approvals_expired": refund_approvals_expire(now=now),
    }


def task_results_prune(*, now: datetime, batch_size: int = TASK_RESULTS_PRUNE_BATCH) -> int:
    """Delete background-task results (every inbox apply, outbox dispatch and reconcile leaves one) that finished,
    succeeded or failed, more than FLEXBILL_TASK_RESULT_RETENTION_DAYS ago; ready and running ones are never
    touched. In batches of batch_size rows, each its own short statement, so a long backlog holds no lock for long."""
    cutoff = now - timedelta(days=settings.FLEXBILL_TASK_RESULT_RETENTION_DAYS)
    old = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).order_by()
    deleted = 0
    while True:
        batch = list(old.values_list("pk", flat=True)[:batch_size])
        if batch:
            deleted += DBTaskResult.objects.filter(pk__in=batch).delete()[0]
        if len(batch) < batch_size:
            return deleted
