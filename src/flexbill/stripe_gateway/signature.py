"""Verifying a Stripe webhook delivery: its signature (the SDK's own check) and that the body is an event.

Knows nothing of organizations: the caller passes the signing secret it holds (or none).
"""

import json

import stripe

from .types import StripeEvent

# An unknown organization is verified against this, so that it costs and answers exactly like a bad signature
# and the endpoint does not tell which organizations exist.
NO_SECRET = "whsec_" + "0" * 32


class DeliveryRefused(Exception):
    """The delivery is not a verified Stripe event. `why` is for the stored row, never for the sender."""

    unverified = False

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class Unverified(DeliveryRefused):
    unverified = True


class NotAnEvent(DeliveryRefused):
    pass


def verify_event(*, body: bytes, signature: str | None, secret: str, tolerance: int) -> StripeEvent:
    """The verified event, or DeliveryRefused (Unverified / NotAnEvent)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unverified("The body is not UTF-8.") from exc
    try:
        stripe.WebhookSignature.verify_header(text, signature, secret or NO_SECRET, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise Unverified(f"Invalid, missing or expired Stripe-Signature: {exc}"[:500]) from exc
    if not secret:  # anyone who reads this code can sign with the stand-in secret: that proves nothing
        raise Unverified("No signing secret.")
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # Verified, but not JSON, or nested deeper than the parser's recursion limit: a bad delivery, not a 500.
        raise NotAnEvent("The body is not JSON.") from exc
    return event_from_json(event)


def event_from_json(event) -> StripeEvent:
    """A parsed body -> StripeEvent, or NotAnEvent when it lacks an id, a type or a data.object."""
    if not isinstance(event, dict):
        raise NotAnEvent("The body is not a JSON object.")
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if (
        not isinstance(event_id, str)
        or not isinstance(event_type, str)
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
        or "\x00" in event_id + event_type
    ):
        raise NotAnEvent("The body is not a Stripe event.")
    account, livemode = event.get("account"), event.get("livemode")
    return StripeEvent(
        id=event_id,
        type=event_type,
        object=data["object"],
        account=account if isinstance(account, str) and account else None,
        livemode=livemode if isinstance(livemode, bool) else None,
    )
