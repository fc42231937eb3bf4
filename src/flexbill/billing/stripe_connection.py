"""What the Stripe settings page and GET /api/v1/organization show about the connection. Never a secret."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from flexbill.accounts.models import Organization
from flexbill.stripe_gateway.keys import key_mode, last4

from .models import WebhookEvent
from .rules import REFUND_EVENT_TYPES

# The events to select for the endpoint in Stripe's dashboard, in the order the page lists them.
STRIPE_EVENTS = tuple(sorted(REFUND_EVENT_TYPES))


@dataclass(frozen=True)
class DeliveryCounts:
    """Deliveries to the organization's webhook endpoint in the last 24 hours, and the last verified one (the
    inbox's lag and failures are the Sync health page's: billing/sync_health.py)."""

    last_event_type: str
    last_event_at: datetime | None
    verified: int
    processed: int
    failed: int  # verified, but the worker could not apply it yet (it retries those)
    rejected: int  # failed verification: a wrong signing secret shows up here


@dataclass(frozen=True)
class StripeConnection:
    connected: bool
    mode: str | None  # "test" | "live"
    secret_key_last4: str
    webhook_secret_set: bool
    webhook_secret_last4: str
    webhook_path: str
    events: tuple[str, ...]
    health: DeliveryCounts


def stripe_connection_get(*, organization: Organization, now: datetime | None = None) -> StripeConnection:
    key, secret = organization.stripe_secret_key, organization.stripe_webhook_secret
    return StripeConnection(
        connected=bool(key),
        mode=key_mode(key),
        secret_key_last4=last4(key),
        webhook_secret_set=bool(secret),
        webhook_secret_last4=last4(secret),
        webhook_path=webhook_path(organization),
        events=STRIPE_EVENTS,
        health=delivery_counts(organization=organization, now=now),
    )


def webhook_path(organization: Organization) -> str:
    # The route takes the slug with or without a trailing slash (Stripe does not follow redirects); reverse() of its
    # optional slash gives none, and the URL is shown, as documented, with it.
    return reverse("stripe_webhook", kwargs={"org_slug": organization.slug}).rstrip("/") + "/"


def delivery_counts(*, organization: Organization, now: datetime | None = None) -> DeliveryCounts:
    """From the stored deliveries (WebhookEvent): the one place that reads them for the status line."""
    since = (now or timezone.now()) - timedelta(hours=24)
    deliveries = WebhookEvent.objects.filter(organization=organization)
    # Aliased: an aggregate may not share its name with a field the filters read ("verified").
    counts = deliveries.filter(received_at__gte=since).aggregate(
        n_verified=Count("pk", filter=Q(verified=True)),
        n_processed=Count("pk", filter=Q(verified=True, processed_at__isnull=False)),
        n_failed=Count("pk", filter=Q(verified=True, processed_at__isnull=True, attempts__gt=0)),
        n_rejected=Count("pk", filter=Q(verified=False)),
    )
    last = deliveries.filter(verified=True).order_by("-received_at", "-pk").values("event_type", "received_at").first()
    return DeliveryCounts(
        last_event_type=last["event_type"] if last else "",
        last_event_at=last["received_at"] if last else None,
        verified=counts["n_verified"],
        processed=counts["n_processed"],
        failed=counts["n_failed"],
        rejected=counts["n_rejected"],
    )
