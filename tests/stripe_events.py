"""Stripe refund events for tests, because the local Stripe never sends charge.* or refund.* events.

Events are built in Stripe's documented format from objects read back from the local Stripe, and signed the way
Stripe signs deliveries: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, f"{t}.{payload}")>`.
"""

import hashlib
import hmac
import json
import secrets
import time

import requests
import stripe
from django.conf import settings

from flexbill.accounts.models import Organization

# Must match conftest.WEBHOOK_SECRET, the signing secret every test organization gets.
WEBHOOK_SECRET = "whsec_test_flexbill"
STALE_SECONDS = 301 + 60  # Stripe's (and flexbill's) tolerance is 300 s
CHARGE_EVENTS = frozenset({"charge.refunded"})
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"})


# Reading from and acting on the local Stripe ----------------------------------------------------------------------
def stripe_client(organization: Organization) -> stripe.StripeClient:
    return stripe.StripeClient(
        organization.stripe_secret_key,
        base_addresses={"api": settings.FLEXBILL_STRIPE_API_BASE},
        max_network_retries=0,
    )


def stripe_charge(organization: Organization, charge_id: str) -> dict:
    return stripe_client(organization).v1.charges.retrieve(charge_id).to_dict()


def stripe_refund(organization: Organization, refund_id: str) -> dict:
    return stripe_client(organization).v1.refunds.retrieve(refund_id).to_dict()


def stripe_refunds_of_charge(organization: Organization, charge_id: str) -> list[dict]:
    page = stripe_client(organization).v1.refunds.list(params={"charge": charge_id, "limit": 100})
    return [refund.to_dict() for refund in page.auto_paging_iter()]


def stripe_refund_set_status(organization: Organization, refund_id: str, status: str) -> dict:
    """Move a refund to `pending` or `failed` in the local Stripe (a test-only endpoint of it)."""
    response = requests.post(
        f"{settings.FLEXBILL_STRIPE_API_BASE}/v1/refunds/{refund_id}",
        json={"status": status},
        headers={"Authorization": f"Bearer {organization.stripe_secret_key}"},
        timeout=5,
    )
    response.raise_for_status()
    assert response.json()["status"] == status
    return response.json()


# Building events -------------------------------------------------------------------------------------------------
def event(event_type: str, obj: dict, *, event_id: str | None = None, previous_attributes: dict | None = None) -> dict:
    """An Event object as Stripe's API reference describes it."""
    data = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{secrets.token_hex(7)}", "idempotency_key": None},
        "type": event_type,
    }


def charge_event(organization: Organization, charge_id: str, event_type: str = "charge.refunded", **kwargs) -> dict:
    """charge.refunded with the Charge object as the local Stripe has it now."""
    assert event_type in CHARGE_EVENTS, event_type
    return event(event_type, stripe_charge(organization, charge_id), **kwargs)


def refund_event(organization: Organization, refund_id: str, event_type: str = "refund.created", **kwargs) -> dict:
    """refund.created / refund.updated / refund.failed / charge.refund.updated with the Refund object."""
    assert event_type in REFUND_EVENTS, event_type
    return event(event_type, stripe_refund(organization, refund_id), **kwargs)


# Signing and delivering ------------------------------------------------------------------------------------------
def payload_of(evt: dict) -> str:
    return json.dumps(evt, indent=2)  # Stripe sends pretty-printed JSON; the signature covers the exact bytes


def signature_header(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_url(org_slug: str) -> str:
    return f"/webhooks/stripe/{org_slug}/"


def post_raw(client, org_slug: str, body: str | bytes, signature: str | None):
    headers = {"Stripe-Signature": signature} if signature is not None else {}
    return client.post(
        webhook_url(org_slug), data=body, content_type="application/json; charset=utf-8", headers=headers
    )


def deliver(client, organization: Organization, evt: dict, *, secret: str = WEBHOOK_SECRET):
    """POST a correctly signed delivery of `evt` to the organization's webhook endpoint."""
    payload = payload_of(evt)
    return post_raw(client, organization.slug, payload, signature_header(payload, secret=secret))


BAD_DELIVERIES = (
    "wrong_secret",
    "stale_timestamp",
    "garbage_body",
    "json_not_an_object",
    "event_without_object",
    "missing_signature",
    "unknown_organization",
)


def deliver_bad(client, organization: Organization, evt: dict, kind: str):
    """Deliver `evt` broken in one way; each must be answered 400."""
    payload = payload_of(evt)
    if kind == "wrong_secret":
        return post_raw(client, organization.slug, payload, signature_header(payload, secret="whsec_someone_else"))
    if kind == "stale_timestamp":
        stale = int(time.time()) - STALE_SECONDS
        return post_raw(client, organization.slug, payload, signature_header(payload, timestamp=stale))
    if kind == "garbage_body":
        garbage = "this is {not json" + payload[:40]
        return post_raw(client, organization.slug, garbage, signature_header(garbage))  # validly signed garbage
    if kind in ("json_not_an_object", "event_without_object"):  # validly signed JSON that is not an event
        body = json.dumps([evt] if kind == "json_not_an_object" else {**evt, "data": {"object": "ch_1"}})
        return post_raw(client, organization.slug, body, signature_header(body))
    if kind == "missing_signature":
        return post_raw(client, organization.slug, payload, None)
    if kind == "unknown_organization":
        return post_raw(client, f"no-such-{organization.slug}", payload, signature_header(payload))
    raise ValueError(kind)


def stripe_charge_outside_flexbill(organization: Organization, amount: int = 5000) -> str:
    """A card charge made in Stripe directly, which flexbill has never heard of; returns the charge id."""
    client = stripe_client(organization)
    customer = client.v1.customers.create(params={"name": "Someone else"})
    method = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    intent = client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": method.id,
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
        }
    )
    latest = intent.to_dict()["latest_charge"]
    return latest if isinstance(latest, str) else latest["id"]


def stripe_refund_for_reference(organization: Organization, *, charge_id: str, amount: int, reference) -> str:
    """The Stripe refund flexbill would have made for its refund `reference` before crashing; returns its id."""
    refund = stripe_client(organization).v1.refunds.create(
        params={"charge": charge_id, "amount": amount, "metadata": {"flexbill_refund_reference": str(reference)}}
    )
    return refund.id
