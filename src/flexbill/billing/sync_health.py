"""Reads for the Sync health page and API: how far behind the inbox of Stripe events is, and what it cannot apply.

Always scoped to one organization.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from flexbill.errors import NotFound

from .models import WebhookEvent

PROBLEMS_SHOWN = 50


@dataclass
class SyncHealth:
    unapplied: int
    waiting: int
    failed: int
    oldest_unapplied_at: datetime | None
    last_applied_at: datetime | None
    lag_seconds: float  # how long the oldest unapplied event has waited; 0 when none waits
    problems: list[WebhookEvent] = field(default_factory=list)  # waiting or failed, newest first


def sync_health(*, organization, now: datetime | None = None) -> SyncHealth:
    now = now or timezone.now()
    inbox = WebhookEvent.objects.filter(organization=organization, verified=True)
    unapplied = inbox.filter(processed_at__isnull=True)
    figures = unapplied.aggregate(
        oldest=Min("received_at"),
        waiting=_count(Q(attempts__gt=0, next_attempt_at__isnull=False)),
        failed=_count(Q(attempts__gt=0, next_attempt_at__isnull=True)),
        unapplied=_count(Q()),
    )
    last_applied = inbox.filter(processed_at__isnull=False).aggregate(last=Max("processed_at"))["last"]
    oldest = figures["oldest"]
    problems = list(unapplied.filter(attempts__gt=0).order_by("-id")[:PROBLEMS_SHOWN])
    return SyncHealth(
        unapplied=figures["unapplied"],
        waiting=figures["waiting"],
        failed=figures["failed"],
        oldest_unapplied_at=oldest,
        last_applied_at=last_applied,
        lag_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        problems=problems,
    )


def inbox_event_get(*, organization, event_id: int) -> WebhookEvent:
    event = WebhookEvent.objects.filter(organization=organization, verified=True, pk=event_id).first()
    if event is None:
        raise NotFound("No such Stripe event.")
    return event


def _count(condition: Q) -> Count:
    return Count("id", filter=condition)
