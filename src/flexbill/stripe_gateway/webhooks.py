"""Stripe webhooks: verify, store raw, map refund events onto flexbill's refunds (rule 9)."""

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

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
NOT_AN_EVENT = "The body is not a Stripe event."


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    detail: str
    code: str = "ok"


UNVERIFIED = "The delivery could not be verified."
# An unknown organization is verified against this, so that it costs and answers exactly like a bad signature
# and the endpoint does not tell which organizations exist.
_NO_SECRET = "whsec_" + "0" * 32
SUMMARY_CHARS = 1024


def webhook_receive(*, org_slug: str, body: bytes, headers) -> WebhookOutcome:
    """Verify, store, process once. 400: a bad delivery (one answer for every unverifiable one); 500: processing
    failed (Stripe retries)."""
    organization = Organization.objects.filter(slug=org_slug[:60]).first()
    secret = organization.stripe_webhook_secret if organization else ""
    try:
        text = body.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text, headers.get("Stripe-Signature"), secret or _NO_SECRET, settings.FLEXBILL_WEBHOOK_TOLERANCE
        )
        if not secret:  # anyone who reads this code can sign with the stand-in secret: that proves nothing
            raise stripe.SignatureVerificationError("No signing secret.", headers.get("Stripe-Signature"))
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        return _reject(org_slug, organization, body, headers, UNVERIFIED, why=_why_unverified(organization, exc))
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):
        # Verified, but not JSON, or nested deeper than the parser's recursion limit: a bad delivery, not a 500.
        return _reject(org_slug, organization, body, headers, NOT_AN_EVENT)
    if not isinstance(event, dict):
        return _reject(org_slug, organization, body, headers, NOT_AN_EVENT)
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if (
        not isinstance(event_id, str)
        or not isinstance(event_type, str)
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
        or "\x00" in event_id + event_type
    ):
        return _reject(org_slug, organization, body, headers, NOT_AN_EVENT)
    delivery = WebhookEvent.objects.create(
        organization=organization,
        org_slug=org_slug[:100],
        headers=_kept_headers(headers, limit=2000),
        body=_as_text(body),
        body_size=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        verified=True,
        event_id=event_id[:255],
        event_type=event_type[:100],
    )

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
        return WebhookOutcome(500, "Processing failed; Stripe will retry.", "processing_failed")
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


def _reject(org_slug: str, organization, body: bytes, headers, detail: str, *, why: str = "") -> WebhookOutcome:
    """Keep a bounded summary of a bad delivery, then drop the oldest beyond the cap and the retention."""
    WebhookEvent.objects.create(
        organization=organization,
        org_slug=org_slug[:100],
        headers=_kept_headers(headers, limit=200),
        body=_as_text(body[: SUMMARY_CHARS * 4])[:SUMMARY_CHARS],
        body_size=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        outcome=(why or detail)[:500],
    )
    rejected_deliveries_prune()
    return WebhookOutcome(400, detail, "unverified" if detail == UNVERIFIED else "not_an_event")


def rejected_deliveries_prune(*, now=None) -> int:
    """Delete rejected deliveries older than the retention, and all but the newest FLEXBILL_WEBHOOK_REJECTED_KEEP."""
    rejected = WebhookEvent.objects.filter(verified=False)
    cutoff = (now or timezone.now()) - timedelta(days=settings.FLEXBILL_WEBHOOK_REJECTED_RETENTION_DAYS)
    deleted, _ = rejected.filter(received_at__lt=cutoff).delete()
    oldest_kept = rejected.order_by("-id").values_list("id", flat=True)[
        settings.FLEXBILL_WEBHOOK_REJECTED_KEEP - 1 : settings.FLEXBILL_WEBHOOK_REJECTED_KEEP
    ]
    oldest_kept = next(iter(oldest_kept), None)
    if oldest_kept is not None:
        deleted += rejected.filter(id__lt=oldest_kept).delete()[0]
    return deleted


def _why_unverified(organization, exc: Exception) -> str:
    """What the operator reads in the stored row; the sender only ever hears UNVERIFIED."""
    if organization is None:
        return "Unknown organization."
    if not organization.stripe_webhook_secret:
        return "The organization has no webhook signing secret."
    if isinstance(exc, UnicodeDecodeError):
        return "The body is not UTF-8."
    return f"Invalid, missing or expired Stripe-Signature: {exc}"[:500]


def _kept_headers(headers, *, limit: int) -> dict:
    return {h: headers.get(h, "")[:limit] for h in KEPT_HEADERS if headers.get(h)}


def _as_text(body: bytes) -> str:
    # Stored as text: undecodable bytes and NUL (which PostgreSQL text cannot hold) become U+FFFD.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _finish(delivery: WebhookEvent, outcome: str) -> WebhookOutcome:
    try:
        with transaction.atomic():
            WebhookEvent.objects.filter(pk=delivery.pk).update(processed_at=timezone.now(), outcome=outcome[:500])
    except IntegrityError:
        # A concurrent delivery of the same event finished first; processing is idempotent, so this is fine.
        WebhookEvent.objects.filter(pk=delivery.pk).update(outcome="Duplicate delivery; already processed.")
    return WebhookOutcome(200, outcome)
