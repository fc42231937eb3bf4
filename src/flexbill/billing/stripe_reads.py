"""Reads from Stripe itself, not from flexbill's database (those are selectors.py's): each one is a call to Stripe
through the gateway, answered as flexbill's own errors."""

from flexbill.errors import Conflict, StripeFailed
from flexbill.stripe_gateway.client import gateway_for
from flexbill.stripe_gateway.types import ChargeDetails, StripeGatewayError

from .models import Charge, ChargeSource

NO_DETAILS = (
    "No details yet — no Stripe charge exists for this payment (it is pending or failed before Stripe charged)."
)


def charge_stripe_details(*, charge: Charge) -> ChargeDetails:
    """What Stripe holds for this charge; Conflict when there is no Stripe charge behind it."""
    if charge.source != ChargeSource.STRIPE or not charge.stripe_charge_id:
        raise Conflict(NO_DETAILS, code="no_stripe_charge")
    try:
        return gateway_for(charge.organization).charge_details(charge.stripe_charge_id)
    except StripeGatewayError as exc:
        raise StripeFailed(f"Stripe could not be read: {exc.message}") from exc
