"""Outgoing webhooks: endpoints, events raised from the audit trail, deliveries with retries."""

import json
import logging
from datetime import timedelta
from urllib.parse import urlparse

import requests
from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend, task

from flexbill.accounts.models import Organization
from flexbill.errors import InvalidInput

from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from .signing import HEADER, sign

log = logging.getLogger("flexbill.outgoing")
MAX_ATTEMPTS = 6
ENDPOINT_CACHE_SECONDS = 10
_endpoint_cache = caches["local"]
TIMEOUT_SECONDS = 10

# Audit actions that integrators hear about, and under which event type.
EVENT_FOR_AUDIT_ACTION = {
    "refund.requested": "refund.created",
    "refund.synced": "refund.created",
    "refund.succeeded": "refund.succeeded",
    "refund.failed": "refund.failed",
    "charge.updated": "charge.updated",
    "charge.marked_refunded": "charge.updated",
    "invoice.updated": "invoice.updated",
}


def webhook_endpoint_create(*, organization: Organization, url: str, event_types: list[str] | None = None):
    parsed = urlparse(url or "")
    allowed_schemes = ("https", "http") if settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP else ("https",)
    if parsed.scheme not in allowed_schemes or not parsed.netloc or len(url) > 500:
        raise InvalidInput("url must be an https:// address of at most 500 characters.", code="url_invalid")
    event_types = list(event_types or EVENT_TYPES)
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(f"Unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}.", code="event_invalid")
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url=url, secret=WebhookEndpoint.generate_secret(), event_types=event_types
    )
    _endpoint_cache.delete(_endpoint_cache_key(organization.pk))
    return endpoint


def on_audit_event(sender, instance, created, **kwargs) -> None:
    """Every audited change may interest integrators: queue a delivery to each endpoint that wants it."""
    if created:
        events_for_audit(instance)


def on_audit_events(sender, events, **kwargs) -> None:
    """The same for audit events inserted together."""
    for event in events:
        events_for_audit(event)


def event_types_for(event) -> list[str]:
    """A refund first seen in Stripe is both created and, usually, already succeeded or failed."""
    event_type = EVENT_FOR_AUDIT_ACTION.get(event.action)
    if event_type is None:
        return []
    status = (event.after or {}).get("status")
    if event.action == "refund.synced" and status in ("succeeded", "failed"):
        return [event_type, f"refund.{status}"]
    return [event_type]


def events_for_audit(event) -> None:
    for event_type in event_types_for(event):
        _queue(event, event_type)


def _queue(event, event_type: str) -> None:
    endpoints = [e for e in _active_endpoints(event.organization_id) if event_type in e.event_types]
    if not endpoints:
        return
    payload = {
        "type": event_type,
        "created": int(event.at.timestamp()),
        "data": {
            "object": event.object_type,
            "id": event.object_id,
            "invoice": event.invoice_id,
            "before": event.before,
            "after": event.after,
            "actor": event.actor_label,
        },
    }
    for endpoint in endpoints:
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type=event_type, payload=payload)
        delivery_id = delivery.pk
        transaction.on_commit(lambda delivery_id=delivery_id: deliver_webhook.enqueue(delivery_id))


def _active_endpoints(organization_id: int) -> list[WebhookEndpoint]:
    # Every audited change asks this, several times per refund: keep the answer briefly. A new endpoint is
    # seen at once in the process that registered it, and within ENDPOINT_CACHE_SECONDS everywhere else.
    key = _endpoint_cache_key(organization_id)
    endpoints = _endpoint_cache.get(key)
    if endpoints is None:
        endpoints = list(WebhookEndpoint.objects.filter(organization_id=organization_id, active=True))
        _endpoint_cache.set(key, endpoints, ENDPOINT_CACHE_SECONDS)
    return endpoints


def _endpoint_cache_key(organization_id: int) -> str:
    return f"flexbill:webhook-endpoints:{organization_id}"


@task()
def deliver_webhook(delivery_id: int) -> str:
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    return webhook_deliver(delivery=delivery)


def webhook_deliver(*, delivery: WebhookDelivery) -> str:
    """One attempt. On failure, schedules the next with exponential backoff until MAX_ATTEMPTS."""
    if delivery.status == WebhookDelivery.Status.SUCCEEDED:
        return "already delivered"
    body = json.dumps({"id": str(delivery.event_id), **delivery.payload}, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        HEADER: sign(secret=delivery.endpoint.secret, body=body),
        "User-Agent": "flexbill-webhooks/1",
    }
    delivery.attempts += 1
    try:
        response = requests.post(
            delivery.endpoint.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False
        )
        delivery.last_status_code = response.status_code
        delivery.last_error = "" if response.ok else f"HTTP {response.status_code}"
        ok = 200 <= response.status_code < 300
    except requests.RequestException as exc:
        delivery.last_status_code = None
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
        ok = False
    if ok:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.next_attempt_at = timezone.now() + retry_delay(delivery.attempts)
    delivery.save()
    if delivery.next_attempt_at and default_task_backend.supports_defer:
        deliver_webhook.using(run_after=delivery.next_attempt_at).enqueue(delivery.pk)
    return delivery.status


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min, 8 min… after the 1st, 2nd, 3rd… failed attempt."""
    return timedelta(seconds=30 * 2 ** (attempts - 1))


def webhook_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, as a new delivery of the same event (the log keeps both)."""
    copy = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint, event_id=delivery.event_id, event_type=delivery.event_type, payload=delivery.payload
    )
    transaction.on_commit(lambda: deliver_webhook.enqueue(copy.pk))
    return copy
