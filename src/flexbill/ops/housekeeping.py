"""Periodic clean-up run by the worker: rows that anonymous traffic creates are kept only as long as they matter, and
refunds that waited too long for approval expire."""

from django.utils import timezone

from flexbill.accounts.sign_in.throttle import sign_in_counts_prune
from flexbill.billing.services.approvals import refund_approvals_expire
from flexbill.billing.services.inbox import rejected_deliveries_prune
from flexbill.outbox.dispatch import outbox_prune


def housekeeping() -> dict[str, int]:
    now = timezone.now()
    return {
        "rejected_webhook_deliveries": rejected_deliveries_prune(now=now),
        "sign_in_counts": sign_in_counts_prune(now=now),
        "outbox_events": outbox_prune(now=now),
        # Refunds that waited for approval too long: canceled, their amounts released.
        "refund_approvals_expired": refund_approvals_expire(now=now),
    }
