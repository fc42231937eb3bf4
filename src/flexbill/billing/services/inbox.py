"""The Stripe webhook endpoint's work: verify, store the event once in the inbox, answer. Nothing else.

No Stripe call and no refund, charge or invoice write happens while Stripe waits for the answer: the worker
applies the inbox (inbox_apply.py) and retries what it cannot apply yet, so a slow or failing Stripe read, or a
charge flexbill does not know yet, is flexbill's to retry rather than a 500 that Stripe would redeliver.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from flexbill.accounts.models import Organization
from flexbill.stripe_gateway.client import key_livemode
from flexbill.stripe_gateway.signature import DeliveryRefused, verify_event

from .. import rules
from ..models import WebhookEvent

KEPT_HEADERS = ("Stripe-Signature", "Content-Type", "User-Agent", "Content-Length")
UNVERIFIED = "The delivery could not be verified."
NOT_AN_EVENT = "The body is not a Stripe event."
SUMMARY_CHARS = 1024


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    detail: str
    code: str = "ok"


def webhook_receive(
    *, org_slug: str, body: bytes, headers, on_stored: Callable[[], None] | None = None
) -> WebhookOutcome:
    """400 for a bad delivery (one answer for every unverifiable one); 200 once the event is stored, or was.

    `on_stored` runs after the new event is committed (the caller queues the worker's apply).
    """
    organization = Organization.objects.filter(slug=org_slug[:60]).first()
    secret = organization.stripe_webhook_secret if organization else ""
    try:
        event = verify_event(
            body=body,
            signature=headers.get("Stripe-Signature"),
            secret=secret,
            tolerance=settings.FLEXBILL_WEBHOOK_TOLERANCE,
        )
    except DeliveryRefused as refused:
        if refused.unverified:
            why = _why_unverified(organization) or refused.why
            return _reject(org_slug, organization, body, headers, UNVERIFIED, why=why)
        return _reject(org_slug, organization, body, headers, NOT_AN_EVENT, why=refused.why)

    ignored = rules.inbox_ignore_reason(
        event_type=event.type,
        sync_enabled=organization.refund_sync_enabled,
        account=event.account,
        livemode=event.livemode,
        key_livemode=key_livemode(organization.stripe_secret_key),
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                organization=organization,
                org_slug=org_slug[:100],
                headers=_kept_headers(headers, limit=2000),
                body=_as_text(body),
                body_size=len(body),
                body_sha256=hashlib.sha256(body).hexdigest(),
                verified=True,
                event_id=event.id[:255],
                event_type=event.type[:100],
                processed_at=now if ignored else None,
                outcome=f"Ignored: {ignored}"[:500] if ignored else "",
            )
    except IntegrityError:
        return WebhookOutcome(200, "Already received.")
    if ignored:
        return WebhookOutcome(200, f"Stored and ignored: {ignored}")
    if on_stored is not None:
        transaction.on_commit(on_stored)
    return WebhookOutcome(200, "Received.")


def _reject(org_slug: str, organization, body: bytes, headers, detail: str, *, why: str) -> WebhookOutcome:
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


def _why_unverified(organization) -> str:
    """What the operator reads in the stored row; the sender only ever hears UNVERIFIED."""
    if organization is None:
        return "Unknown organization."
    if not organization.stripe_webhook_secret:
        return "The organization has no webhook signing secret."
    return ""


def _kept_headers(headers, *, limit: int) -> dict:
    return {h: headers.get(h, "")[:limit] for h in KEPT_HEADERS if headers.get(h)}


def _as_text(body: bytes) -> str:
    # Stored as text: undecodable bytes and NUL (which PostgreSQL text cannot hold) become U+FFFD.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
