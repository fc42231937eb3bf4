"""The organization's Stripe connection: its secret key and webhook signing secret, entered in Settings → Stripe or
the API, and a signed test event to prove the signing secret is in place.

Secrets are write-only: nothing here returns or records them; audit events say what changed, the mode and the
last four characters at most.
"""

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from django.db import transaction
from django.urls import resolve

from flexbill.accounts.models import Organization
from flexbill.accounts.organization_rules import may_change_stripe_connection
from flexbill.accounts.permissions import Permission
from flexbill.audit.services import Actor, audit_record
from flexbill.errors import InvalidInput, PermissionDenied, StripeFailed
from flexbill.stripe_gateway.client import stripe_key_check
from flexbill.stripe_gateway.keys import MAX_SECRET, is_webhook_secret, key_mode, last4
from flexbill.stripe_gateway.types import LiveKeyRefused, StripeGatewayError, StripeRejected

from ..stripe_connection import webhook_path
from ..tasks import inbox_apply_soon
from .inbox import signing_organization_forget, webhook_receive

TEST_EVENT_TYPE = "ping"  # a type Stripe itself uses to check an endpoint; flexbill stores it and does nothing else
OWNER_ONLY = "Only an owner can change the Stripe connection."


@dataclass(frozen=True)
class TestEventResult:
    verified: bool
    event_id: str
    detail: str


def stripe_connection_update(
    *, actor: Actor, secret_key: str | None = None, webhook_secret: str | None = None
) -> Organization:
    """Save a new secret key, signing secret or both, all or nothing. Refused, with nothing saved: not an owner (403),
    not a Stripe secret or restricted key or not a signing secret (400), a key Stripe refuses in one read call (400),
    Stripe cannot be asked (502)."""
    _require_owner(actor)
    if secret_key is None and webhook_secret is None:
        raise InvalidInput("Give a secret key, a webhook signing secret or both.", code="nothing_to_change")
    key = _secret_key(secret_key) if secret_key is not None else None
    signing_secret = _webhook_secret(webhook_secret) if webhook_secret is not None else None
    if key is not None:
        _ask_stripe(key)  # outside any transaction: no row stays locked while Stripe is asked
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
        if key is not None:
            _save_secret(organization, actor, "stripe_secret_key", key)
        if signing_secret is not None:
            _save_secret(organization, actor, "stripe_webhook_secret", signing_secret)
    if signing_secret is not None:
        signing_organization_forget(organization.slug)
    return organization


def stripe_test_event_send(*, actor: Actor) -> TestEventResult:
    """Sign a `ping` event with the stored signing secret exactly as Stripe signs deliveries and hand it to the
    webhook endpoint's own verification, in this process (no HTTP request to itself: nothing to forge, and a
    single-worker server cannot wait on itself). It proves the stored secret is what deliveries are verified with
    and that verified deliveries are stored; whether Stripe signs with the same secret, Stripe's own "Send test
    webhook" shows."""
    _require_owner(actor)
    organization = Organization.objects.get(pk=actor.organization_id)
    if not organization.stripe_webhook_secret:
        raise InvalidInput("Enter the webhook signing secret first.", code="webhook_secret_missing")
    event_id = f"evt_flexbill_test_{secrets.token_hex(12)}"
    body = _test_event_body(event_id, organization)
    timestamp = int(time.time())
    signature = hmac.new(
        organization.stripe_webhook_secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    headers = {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}
    # Through the very URL shown on the Stripe page, so the test also proves that URL reaches this organization.
    match = resolve(webhook_path(organization))
    outcome = webhook_receive(
        org_slug=match.kwargs["org_slug"], body=body.encode(), headers=headers, on_stored=inbox_apply_soon
    )
    verified = outcome.status == 200
    audit_record(
        organization_id=organization.pk,
        actor=actor,
        action="stripe.test_event_sent",
        obj=organization,
        after={"event_id": event_id, "verified": verified},
        message=f"Test event {event_id}: {outcome.detail}",
    )
    return TestEventResult(verified=verified, event_id=event_id, detail=outcome.detail)


def _test_event_body(event_id: str, organization: Organization) -> str:
    event = {
        "id": event_id,
        "object": "event",
        "api_version": None,
        "created": int(time.time()),
        "livemode": key_mode(organization.stripe_secret_key) == "live",
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": TEST_EVENT_TYPE,
        "data": {"object": {"object": "flexbill_test", "organization": organization.slug}},
    }
    return json.dumps(event, indent=2)  # pretty-printed, as Stripe sends it


def _require_owner(actor: Actor) -> None:
    # An owner holds every permission; one only invited holds none (and a deactivated user none either).
    actor.require(Permission.SETTINGS_MANAGE, refusal=OWNER_ONLY)
    if not may_change_stripe_connection(actor.role):
        raise PermissionDenied(OWNER_ONLY)


def _typed_secret(value: object) -> str:
    """Pasted secrets often carry spaces or a line break at either end; inside, a secret has none."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput("Paste the value from Stripe's dashboard.", code="secret_missing")
    if len(text) > MAX_SECRET:
        raise InvalidInput(f"That is longer than any Stripe secret ({MAX_SECRET} characters).", code="secret_invalid")
    return text


def _secret_key(value: object) -> str:
    key = _typed_secret(value)
    if key_mode(key) is None:
        raise InvalidInput(
            "That is not a Stripe secret key: it starts with sk_test_, sk_live_, rk_test_ or rk_live_ "
            "(Stripe dashboard → Developers → API keys).",
            code="secret_key_invalid",
        )
    return key


def _webhook_secret(value: object) -> str:
    secret = _typed_secret(value)
    if not is_webhook_secret(secret):
        raise InvalidInput(
            "That is not a webhook signing secret: it starts with whsec_ (Stripe dashboard → Developers → Webhooks → "
            "your endpoint → Signing secret).",
            code="webhook_secret_invalid",
        )
    return secret


def _ask_stripe(key: str) -> None:
    try:
        stripe_key_check(key)
    except LiveKeyRefused as exc:
        raise InvalidInput(f"{exc.message} Nothing was saved.", code="live_key_with_local_stripe") from exc
    except StripeRejected as exc:
        raise InvalidInput(
            f"Stripe refused this key: {exc.message.replace(key, '…')} Nothing was saved.", code="secret_key_refused"
        ) from exc
    except StripeGatewayError as exc:  # refused connection, timeout, Stripe's own 5xx: the key was not checked
        raise StripeFailed(
            "Stripe could not be reached, so the key could not be checked. Nothing was saved; try again.",
            code="stripe_unreachable",
        ) from exc


AUDIT = {
    "stripe_secret_key": ("stripe.secret_key_changed", "Stripe secret key"),
    "stripe_webhook_secret": ("stripe.webhook_secret_changed", "Stripe webhook signing secret"),
}


def _save_secret(organization: Organization, actor: Actor, field: str, value: str) -> None:
    """Store a secret and audit that it changed: whether one was set, the mode and the last four characters."""
    previous = getattr(organization, field)
    setattr(organization, field, value)
    organization.save(update_fields=[field])
    action, what = AUDIT[field]
    before, after = {"set": bool(previous), "last4": last4(previous)}, {"set": True, "last4": last4(value)}
    message = f"{what} changed, now ending {last4(value) or '(short)'}."
    if field == "stripe_secret_key":
        before["mode"], after["mode"] = key_mode(previous), key_mode(value)
        message = f"{what} changed: {key_mode(value)} mode, ending {last4(value)}."
    audit_record(
        organization_id=organization.pk,
        actor=actor,
        action=action,
        obj=organization,
        before=before,
        after=after,
        message=message,
    )
