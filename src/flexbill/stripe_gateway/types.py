"""Small typed results the gateway returns, so the rest of flexbill never handles raw Stripe objects."""

from dataclasses import dataclass, field
from datetime import datetime


class StripeGatewayError(Exception):
    """Stripe failed. `maybe_applied` is True when the request may have reached Stripe and taken effect."""

    maybe_applied = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StripeRejected(StripeGatewayError):
    """Stripe answered with an error: nothing was done."""


class LiveKeyRefused(StripeRejected):
    """flexbill refused, without asking Stripe, to use a live key with the local-Stripe workarounds on."""


class StripeUnreachable(StripeGatewayError):
    """The connection to Stripe could not be made: the request never left flexbill."""


class StripeUncertain(StripeGatewayError):
    """Stripe did not answer in time or answered 5xx: the request may or may not have been applied."""

    maybe_applied = True


@dataclass(frozen=True)
class PaymentMethodInfo:
    """A payment method as Stripe describes it: `brand` for cards, `bank_name` for US bank accounts, and the last
    four digits of the card, IBAN or account number. `id` is "" when read from a charge's payment_method_details."""

    id: str
    type: str
    brand: str = ""
    last4: str = ""
    bank_name: str = ""


@dataclass(frozen=True)
class PaymentResult:
    """The outcome of charging a payment method: success, pending (processing) or failed."""

    status: str
    payment_intent_id: str | None
    charge_id: str | None
    failure_message: str = ""
    # What Stripe says the charge was paid with (its payment_method_details), when Stripe returned the charge.
    paid_with: PaymentMethodInfo | None = None


@dataclass(frozen=True)
class RefundInfo:
    id: str
    charge_id: str | None
    payment_intent_id: str | None
    amount: int
    currency: str
    status: str
    failure_reason: str = ""
    reason: str | None = None
    metadata: dict = field(default_factory=dict)
    created: datetime | None = None


@dataclass(frozen=True)
class StripeEvent:
    """A verified Stripe event: what flexbill reads of it. `object` is data.object as Stripe sent it."""

    id: str
    type: str
    object: dict
    account: str | None = None  # set on events of a connected account (Connect)
    livemode: bool | None = None

    @property
    def charge_id(self) -> str | None:
        """The charge a refund or charge event names: a Charge object's id, or a Refund's `charge`."""
        if self.object.get("object") == "charge":
            return _object_id(self.object.get("id"))
        return _object_id(self.object.get("charge"))

    @property
    def payment_intent_id(self) -> str | None:
        return _object_id(self.object.get("payment_intent"))


def _object_id(value) -> str | None:
    """An expandable Stripe field: an id, an object with one, or absent. Anything else names nothing."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value and "\x00" not in value else None


@dataclass(frozen=True)
class ChargeDetails:
    id: str
    payment_intent_id: str | None
    amount: int
    amount_refunded: int
    currency: str
    status: str
    paid: bool
    created: datetime | None
    customer_id: str | None
    payment_method_id: str | None
    failure_message: str
    refunds: list[RefundInfo]
