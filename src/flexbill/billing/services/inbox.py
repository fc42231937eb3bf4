"""The Stripe webhook endpoint's work: verify, store the event once in the inbox, answer. Nothing else.

No Stripe call and no refund, charge or invoice write happens while Stripe waits for the answer: the worker
applies the inbox (inbox_apply.py) and retries what it cannot apply yet, so a slow or failing Stripe read, or a
charge flexbill does not know yet, is flexbill's to retry rather than a 500 that Stripe would redeliver.
"""

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import caches
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from flexbill.accounts.models import Organization
from flexbill.stripe_gateway.signature import DeliveryRefused, verify_event

from ..models import WebhookEvent

KEPT_HEADERS = ("Stripe-Signature", "Content-Type", "User-Agent", "Content-Length")
UNVERIFIED = "The delivery could not be verified."
NOT_AN_EVENT = "The body is not a Stripe event."
SUMMARY_CHARS = 1024
_organizations = caches["local"]


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    detail: str
    code: str = "ok"


def webhook_receive(
    *, org_slug: str, body: bytes, headers, on_stored: Callable[[], None] | None = None
) -> WebhookOutcome:
    """400 for a bad delivery (one answer for every unverifiable one); 200 once the event is stored, or was.

    Whether the event is to be applied at all (sync on, a refund event, the organization's own account and mode)
    is the worker's decision, with the organization as it is then. `on_stored` runs after the new event is
    committed (the caller queues the worker's apply).
    """
    organization_id, secret = _signing_organization(org_slug[:60])
    try:
        event = verify_event(
            body=body,
            signature=headers.get("Stripe-Signature"),
            secret=secret,
            tolerance=settings.FLEXBILL_WEBHOOK_TOLERANCE,
        )
    except DeliveryRefused as refused:
        if refused.unverified:
            why = _why_unverified(organization_id, secret) or refused.why
            return _reject(org_slug, organization_id, body, headers, UNVERIFIED, why=why)
        return _reject(org_slug, organization_id, body, headers, NOT_AN_EVENT, why=refused.why)
    stored = WebhookEvent(
        organization_id=organization_id,
        org_slug=org_slug[:100],
        headers=_kept_headers(headers, limit=2000),
        body=_as_text(body),
        body_size=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        received_at=timezone.now(),
        verified=True,
        event_id=event.id[:255],
        event_type=event.type[:100],
    )
    try:
        if connection.in_atomic_block:  # a caller's transaction: a duplicate must not spoil it
            with transaction.atomic():
                _insert(stored)
        else:
            _insert(stored)
    except IntegrityError:
        return WebhookOutcome(200, "Already received.")
    if on_stored is not None:
        transaction.on_commit(on_stored)
    return WebhookOutcome(200, "Received.")


def _insert(event: WebhookEvent) -> None:
    """One INSERT of a new inbox row, in its own transaction when none is open.

    Every delivery runs this while Stripe waits; the ORM's create() spent most of the endpoint's time building
    the same statement again each time, so it is built once per process.
    """
    columns = _insert_columns()
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in columns]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), values)


@functools.cache
def _insert_columns() -> list:
    return [f for f in WebhookEvent._meta.concrete_fields if not f.primary_key]


@functools.cache
def _insert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    table = quote(WebhookEvent._meta.db_table)
    names = ", ".join(quote(f.column) for f in _insert_columns())
    values = ", ".join(["%s"] * len(_insert_columns()))
    return f"INSERT INTO {table} ({names}) VALUES ({values})"  # noqa: S608 - names from the model, values as parameters


def _signing_organization(slug: str) -> tuple[int | None, str]:
    """(organization id, webhook signing secret) for a slug; (None, "") when there is no such organization.

    Every delivery asks this: the answer is kept in the process for a few seconds, so a changed signing secret
    is used everywhere within FLEXBILL_WEBHOOK_ORG_CACHE_SECONDS (Stripe retries what fails meanwhile), and at
    once in the process that changed it (signing_organization_forget).
    """
    key = _signing_key(slug)
    found = _organizations.get(key)
    if found is None:
        row = Organization.objects.filter(slug=slug).values_list("pk", "stripe_webhook_secret").first()
        found = tuple(row) if row else (None, "")
        _organizations.set(key, found, settings.FLEXBILL_WEBHOOK_ORG_CACHE_SECONDS)
    return found


def signing_organization_forget(slug: str) -> None:
    """The organization's signing secret changed: this process reads it afresh on the next delivery."""
    _organizations.delete(_signing_key(slug[:60]))


def _signing_key(slug: str) -> str:
    return "flexbill:stripe-webhook-org:" + hashlib.sha256(slug.encode()).hexdigest()


def _reject(org_slug: str, organization_id, body: bytes, headers, detail: str, *, why: str) -> WebhookOutcome:
    """Keep a bounded summary of a bad delivery, then drop the oldest beyond the cap and the retention."""
    WebhookEvent.objects.create(
        organization_id=organization_id,
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


def _why_unverified(organization_id, secret: str) -> str:
    """What the operator reads in the stored row; the sender only ever hears UNVERIFIED."""
    if organization_id is None:
        return "Unknown organization."
    if not secret:
        return "The organization has no webhook signing secret."
    return ""


def _kept_headers(headers, *, limit: int) -> dict:
    return {h: headers.get(h, "")[:limit] for h in KEPT_HEADERS if headers.get(h)}


def _as_text(body: bytes) -> str:
    # Stored as text: undecodable bytes and NUL (which PostgreSQL text cannot hold) become U+FFFD.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
