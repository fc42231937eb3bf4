"""Outgoing webhooks: endpoints, the outbox's events delivered to them (deliver_event), deliveries with retries."""

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend, task

from flexbill.accounts.models import Organization
from flexbill.audit.services import SYSTEM, Actor, audit_record
from flexbill.errors import Conflict, InvalidInput
from flexbill.outbox.events import VERSION_HEADER

from . import destinations, transport
from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from .signing import HEADER, sign

log = logging.getLogger("flexbill.outgoing")
MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = 10
ENDPOINT_PAUSED = "Endpoint paused"


def webhook_endpoint_create(
    *, organization: Organization, url: str, event_types: list[str] | None = None, actor: Actor = SYSTEM
) -> WebhookEndpoint:
    try:
        destinations.check_new_endpoint_url(url, allow_http=settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP)
    except destinations.UrlRefused as exc:
        raise InvalidInput(exc.detail, code="url_invalid") from None
    event_types = list(event_types or EVENT_TYPES)
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(f"Unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}.", code="event_invalid")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            organization=organization, url=url, secret=WebhookEndpoint.generate_secret(), event_types=event_types
        )
        _audit(endpoint, actor=actor, action="webhook_endpoint.created", before=None, after=_state(endpoint))
    return endpoint


def webhook_endpoint_set_active(*, endpoint: WebhookEndpoint, active: bool, actor: Actor) -> WebhookEndpoint:
    """Pause (no new deliveries; queued ones are not sent) or resume an endpoint. Asking for the state it is
    already in changes and records nothing."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.active != active:
            before = _state(endpoint)
            endpoint.active = active
            endpoint.save(update_fields=["active"])
            action = "webhook_endpoint.resumed" if active else "webhook_endpoint.paused"
            _audit(endpoint, actor=actor, action=action, before=before, after=_state(endpoint))
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    """Delete an endpoint with its delivery log; deliveries still queued for it are then never sent."""
    with transaction.atomic():
        _audit(endpoint, actor=actor, action="webhook_endpoint.deleted", before=_state(endpoint), after=None)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


def _state(endpoint: WebhookEndpoint) -> dict:
    return {"url": endpoint.url, "event_types": endpoint.event_types, "active": endpoint.active}  # never the secret


def _audit(endpoint: WebhookEndpoint, *, actor: Actor, action: str, before: dict | None, after: dict | None) -> None:
    audit_record(
        organization_id=endpoint.organization_id,
        actor=actor,
        action=action,
        obj=endpoint,
        before=before,
        after=after,
    )


def deliver_event(event) -> None:
    """Send an outbox event to each active endpoint that wants its type, each as one logged delivery with the
    event's id. Called by the outbox's worker: again for the same event after a crash, it sends again only what
    was never attempted (a delivery being attempted when the worker died), so a receiver may see the event twice,
    with the same id, and never misses it. Failed attempts follow the delivery's own retries."""
    endpoints = WebhookEndpoint.objects.filter(organization_id=event.organization_id, active=True).order_by("pk")
    for endpoint in endpoints:
        if event.type not in endpoint.event_types:
            continue
        delivery = WebhookDelivery.objects.filter(endpoint=endpoint, event_id=event.event_id).order_by("pk").first()
        if delivery is None:
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint, event_id=event.event_id, event_type=event.type, payload=event.payload
            )
        if delivery.attempts == 0 and delivery.status == WebhookDelivery.Status.PENDING:
            webhook_deliver(delivery=delivery)


@task()
def deliver_webhook(delivery_id: int) -> str:
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return "endpoint deleted"  # its deliveries went with it
    return webhook_deliver(delivery=delivery)


def webhook_deliver(*, delivery: WebhookDelivery) -> str:
    """One attempt. On failure, schedules the next with exponential backoff until MAX_ATTEMPTS.

    The URL and every address its host resolves to are checked again now, and the request goes to exactly those
    addresses: what a name resolved to at registration says nothing about what it resolves to today.
    """
    if delivery.status == WebhookDelivery.Status.SUCCEEDED:
        return "already delivered"
    endpoint = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).first()
    if endpoint is None:
        return "endpoint deleted"
    if not endpoint.active:
        # Paused: queued deliveries are not sent. They stay in the log, and Resend sends them once resumed.
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.last_error = ENDPOINT_PAUSED
        delivery.next_attempt_at = None
        delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
        return delivery.status
    body = json.dumps({**delivery.payload, "id": str(delivery.event_id)}, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        HEADER: sign(secret=endpoint.secret, body=body),
        "User-Agent": "flexbill-webhooks/1",
    }
    if "flexbill_version" in delivery.payload:  # deliveries logged before the versioned schema have none
        headers[VERSION_HEADER] = delivery.payload["flexbill_version"]
    delivery.attempts += 1
    delivery.last_status_code = None
    try:
        destination = destinations.destination_for(
            endpoint.url, allow_http=settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP
        )
        status_code = transport.post(destination, body=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except destinations.UrlRefused as exc:
        delivery.last_error = exc.reason
        ok = False
    except transport.DeliveryFailed as exc:
        delivery.last_error = exc.reason
        ok = False
    else:
        delivery.last_status_code = status_code
        ok = 200 <= status_code < 300
        delivery.last_error = "" if ok else f"HTTP {status_code}"
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
    if not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, active=True).exists():
        raise Conflict("This endpoint is paused: resume it before resending.", code="endpoint_paused")
    copy = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint, event_id=delivery.event_id, event_type=delivery.event_type, payload=delivery.payload
    )
    transaction.on_commit(lambda: deliver_webhook.enqueue(copy.pk))
    return copy
