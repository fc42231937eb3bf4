"""Stripe webhooks: verify, store raw, map refund events onto flexbill's refunds (rule 9)."""

import logging
from dataclasses import dataclass

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from flexbill.accounts.models import Organization

from .client import gateway_for
from .models import WebhookEvent
from .types import StripeGatewayError

log = logging.getLogger("flexbill.webhooks")

REFUND_EVENTS = frozenset(
    {"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated", "refund.failed"}
)
KEPT_HEADERS = ("Stripe-Signature", "Content-Type", "User-Agent", "Content-Length")


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    detail: str


def webhook_receive(*, org_slug: str, body: bytes, headers) -> WebhookOutcome:
    """Store the delivery, verify it, process it once. 400: bad delivery; 500: processing failed (retry)."""
    organization = Organization.objects.filter(slug=org_slug).first()
    delivery = WebhookEvent.objects.create(
        organization=organization,
        org_slug=org_slug[:100],
        headers={h: headers.get(h, "")[:2000] for h in KEPT_HEADERS if headers.get(h)},
        # Stored as text: undecodable bytes and NUL (which PostgreSQL text cannot hold) become U+FFFD.
        body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
    )
    if organization is None or not organization.stripe_webhook_secret:
        return _reject(delivery, "Unknown organization.")
    signature = headers.get("Stripe-Signature")
    if not signature:
        return _reject(delivery, "Missing Stripe-Signature header.")
    try:
        event = stripe.Webhook.construct_event(
            body.decode("utf-8"), signature, organization.stripe_webhook_secret, settings.FLEXBILL_WEBHOOK_TOLERANCE
        )
    except stripe.SignatureVerificationError:
        return _reject(delivery, "Invalid or expired Stripe-Signature.")
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
        # The SDK parses the verified body with dict methods: JSON that is not an object fails with
        # AttributeError/TypeError, and must be a 400 like any other body that is not an event, not a 500.
        return _reject(delivery, "The body is not a Stripe event.")
    event = event.to_dict()
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if (
        not isinstance(event_id, str)
        or not isinstance(event_type, str)
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
        or "\x00" in event_id + event_type
    ):
        return _reject(delivery, "The body is not a Stripe event.")
    delivery.verified = True
    delivery.event_id = event_id[:255]
    delivery.event_type = event_type[:100]
    delivery.save(update_fields=["verified", "event_id", "event_type"])

    if _already_processed(delivery):
        return _finish(delivery, "Already processed.")
    if not organization.refund_sync_enabled:
        return _finish(delivery, "Refund sync is off for this organization; stored only.")
    if event_type not in REFUND_EVENTS:
        return _finish(delivery, f"{event_type} is not handled; stored only.")
    try:
        outcome = _process_refund_event(organization, event)
    except Exception as exc:  # any failure must reach Stripe as a 500 so that it retries the delivery
        log.exception("Processing webhook %s failed", event_id)
        WebhookEvent.objects.filter(pk=delivery.pk).update(error=f"{type(exc).__name__}: {exc}"[:5000])
        return WebhookOutcome(500, "Processing failed; Stripe will retry.")
    return _finish(delivery, outcome)


def _process_refund_event(organization: Organization, event: dict) -> str:
    from flexbill.billing.models import Charge
    from flexbill.billing.services import charge_sync_refunds

    obj = event["data"].get("object") or {}
    if obj.get("object") == "charge":
        charge_id, intent_id = obj.get("id"), obj.get("payment_intent")
    else:
        charge_id, intent_id = obj.get("charge"), obj.get("payment_intent")
    charge_id, intent_id = _object_id(charge_id), _object_id(intent_id)
    charges = Charge.objects.filter(organization=organization)
    charge = None
    if charge_id:
        charge = charges.filter(stripe_charge_id=charge_id).first()
    if charge is None and intent_id:
        charge = charges.filter(stripe_payment_intent_id=intent_id).first()
    if charge is None:
        log.info("Webhook %s names a charge flexbill does not know (%s / %s)", event["id"], charge_id, intent_id)
        return "Charge not known to flexbill; acknowledged."
    # Found by its PaymentIntent, the charge may not have Stripe's charge id stored yet: listing refunds without
    # a charge would return every refund of the account, so take the id the event names.
    stripe_charge_id = charge.stripe_charge_id or charge_id
    if not stripe_charge_id:
        return f"Charge {charge.pk} has no Stripe charge yet; acknowledged."
    # Event payloads can arrive late, twice or out of order: read the charge's refunds as Stripe has them now.
    read_at = timezone.now()
    try:
        refunds = gateway_for(organization).refunds_for_charge(stripe_charge_id)
    except StripeGatewayError as exc:
        raise RuntimeError(f"Stripe could not be read: {exc.message}") from exc
    result = charge_sync_refunds(charge=charge, refunds=refunds, read_at=read_at)
    return f"Charge {charge.pk}: {result.created} refund(s) recorded, {result.updated} updated."


def _object_id(value) -> str | None:
    """An expandable Stripe field: an id, an object with one, or absent. Anything else names nothing."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _already_processed(delivery: WebhookEvent) -> bool:
    return WebhookEvent.objects.filter(
        organization=delivery.organization, event_id=delivery.event_id, processed_at__isnull=False
    ).exists()


def _reject(delivery: WebhookEvent, detail: str) -> WebhookOutcome:
    WebhookEvent.objects.filter(pk=delivery.pk).update(outcome=detail)
    return WebhookOutcome(400, detail)


def _finish(delivery: WebhookEvent, outcome: str) -> WebhookOutcome:
    try:
        with transaction.atomic():
            WebhookEvent.objects.filter(pk=delivery.pk).update(processed_at=timezone.now(), outcome=outcome[:500])
    except IntegrityError:
        # A concurrent delivery of the same event finished first; processing is idempotent, so this is fine.
        WebhookEvent.objects.filter(pk=delivery.pk).update(outcome="Duplicate delivery; already processed.")
    return WebhookOutcome(200, outcome)
