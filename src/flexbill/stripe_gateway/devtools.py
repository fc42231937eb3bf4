"""Development helpers that act in Stripe directly, as a person would in Stripe's dashboard.

Used by the demo, its `flexbill stripe-refund` command and the tests; never by the product's own flows.
"""

from .client import _plain, _translated_errors, gateway_for


def stripe_refund_directly(organization, *, charge_id: str, amount: int | None = None) -> str:
    """Refund in Stripe without flexbill (no flexbill metadata): the refund webhooks/reconcile must bring in."""
    params = {"charge": charge_id}
    if amount is not None:
        params["amount"] = amount
    with _translated_errors():
        refund = gateway_for(organization)._v1.refunds.create(params=params)
    return refund.id


def stripe_payment_method_create(organization, *, iban: str, name: str, email: str) -> str:
    with _translated_errors():
        method = gateway_for(organization)._v1.payment_methods.create(
            params={
                "type": "sepa_debit",
                "sepa_debit": {"iban": iban},
                "billing_details": {"name": name, "email": email},
            }
        )
    return _plain(method)["id"]
