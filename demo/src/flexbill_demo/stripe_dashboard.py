"""Acting in Stripe directly, as a person would in Stripe's dashboard: for the demo, its `flexbill stripe-refund`
command and the tests; never for flexbill's own flows, which go through flexbill.stripe_gateway.

Stripe's errors come out as stripe-python raises them (stripe.StripeError)."""

import stripe
from django.conf import settings


def stripe_client(organization) -> stripe.StripeClient:
    """A client of the organization's Stripe account at the configured API base (the local Stripe)."""
    base = settings.FLEXBILL_STRIPE_API_BASE
    return stripe.StripeClient(
        organization.stripe_secret_key,
        base_addresses={"api": base} if base else {},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=settings.FLEXBILL_STRIPE_TIMEOUT),
    )


def stripe_refund_directly(organization, *, charge_id: str, amount: int | None = None) -> str:
    """Refund in Stripe without flexbill (no flexbill metadata): the refund webhooks/reconcile must bring in."""
    params = {"charge": charge_id}
    if amount is not None:
        params["amount"] = amount
    return stripe_client(organization).v1.refunds.create(params=params).id


def stripe_payment_method_create(organization, *, iban: str, name: str, email: str) -> str:
    method = stripe_client(organization).v1.payment_methods.create(
        params={
            "type": "sepa_debit",
            "sepa_debit": {"iban": iban},
            "billing_details": {"name": name, "email": email},
        }
    )
    return method.id
