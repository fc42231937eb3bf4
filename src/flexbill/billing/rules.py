"""Pure billing rules: refund eligibility and status derivation. No ORM, no I/O; `now` is a parameter.

Functions take any object with the named attributes (a Charge model, or a plain dataclass in tests).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flexbill.choices import (
    ChargeDisplayStatus,
    ChargeSource,
    ChargeStatus,
    InvoicePaymentMethod,
    InvoiceStatus,
    RefundStatus,
)

from .refusals import Refusal

# Stripe allows refunds of ACH and SEPA Direct Debit payments for 180 days only; flexbill refuses older ones
# itself, before calling Stripe, so staff get a clear answer instead of a Stripe error.
DEBIT_REFUND_WINDOW = timedelta(days=180)
DEBIT_METHOD_TYPES = frozenset({"us_bank_account", "sepa_debit"})

# The largest amount flexbill takes in, in minor units: beyond any real invoice, and well inside a 64-bit column.
MAX_AMOUNT = 10**12

IN_FLIGHT_REFUND_STATUSES = frozenset({RefundStatus.REQUESTED, RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION})
# A refund awaiting approval reserves its amount like one sent to Stripe: nothing else can take it meanwhile.
RESERVING_REFUND_STATUSES = IN_FLIGHT_REFUND_STATUSES | {RefundStatus.SUCCEEDED, RefundStatus.AWAITING_APPROVAL}


@dataclass(frozen=True)
class Eligibility:
    """The outcome of a refund check: an amount to refund, or the reason it is refused."""

    amount: int = 0
    refusal: Refusal | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def refundable_amount(amount: int, amount_reserved: int) -> int:
    """What can still be refunded: the charge less every refund that has not failed or been canceled."""
    return max(amount - amount_reserved, 0)


def refund_eligibility(
    charge,
    *,
    now: datetime,
    can_refund: bool,
    amount: object = None,
    currency: str | None = None,
    invoice: "InvoiceRefunds | None" = None,
) -> Eligibility:
    """Decide whether `charge` may be refunded now, and for how much (default: all that remains).

    `currency`, when the request names one, must be the charge's: a refund is always in the charge's currency.
    `invoice`, the figures of the charge's invoice, also bounds the refund by what the invoice may still refund:
    money already recorded as returned with a credit note must not go back a second time through Stripe.
    """
    if not can_refund:
        return Eligibility(refusal=Refusal.PERMISSION_DENIED)
    if currency is not None and str(currency).lower() != charge.currency:
        return Eligibility(refusal=Refusal.CURRENCY_MISMATCH)
    if charge.source != ChargeSource.STRIPE:
        return Eligibility(refusal=Refusal.NOT_STRIPE)
    if charge.status == ChargeStatus.REFUNDED:
        return Eligibility(refusal=Refusal.ALREADY_REFUNDED)
    if charge.payment_status != ChargeStatus.SUCCESS:
        return Eligibility(refusal=Refusal.NOT_SUCCEEDED)
    if not charge.stripe_charge_id:
        return Eligibility(refusal=Refusal.NO_STRIPE_CHARGE)
    remaining = refundable_amount(charge.amount, charge.amount_reserved)
    if remaining == 0:
        return Eligibility(refusal=Refusal.ALREADY_REFUNDED)
    if charge.payment_method_type in DEBIT_METHOD_TYPES and now - charge.charged_at > DEBIT_REFUND_WINDOW:
        return Eligibility(refusal=Refusal.TOO_OLD_FOR_REFUND)
    room = remaining if invoice is None else min(remaining, invoice.room)
    if amount is None:
        return Eligibility(amount=room) if room > 0 else Eligibility(refusal=Refusal.REFUNDS_EXCEED_PAID)
    if not is_valid_amount(amount):
        return Eligibility(refusal=Refusal.AMOUNT_INVALID)
    if amount > remaining:
        return Eligibility(refusal=Refusal.AMOUNT_TOO_LARGE)
    if amount > room:
        return Eligibility(refusal=Refusal.REFUNDS_EXCEED_PAID)
    return Eligibility(amount=amount)


def is_valid_amount(amount: object) -> bool:
    """Money is a positive whole number of minor units; bools, floats and strings are not money."""
    return type(amount) is int and amount > 0


def mark_refunded_refusal(charge, *, invoice: "InvoiceRefunds | None" = None) -> Refusal | None:
    """May `charge` be marked Refunded without moving money ("Change status → Refunded", "Delete")?

    Only a charge whose payment succeeded (refunded in part or not at all) may: marking says its money went back
    outside flexbill, and a pending or failed payment brought nothing in. `invoice`, the figures of the charge's
    invoice, refuses a mark that would show the invoice refunded beyond what was paid (credit notes already
    recorded the money as returned): marking adds what is neither refunded nor being refunded on this charge.
    """
    if charge.status == ChargeStatus.REFUNDED:
        return Refusal.ALREADY_REFUNDED
    if charge.payment_status != ChargeStatus.SUCCESS:
        return Refusal.NOT_PAID
    if invoice is not None and charge.amount - charge.amount_reserved > invoice.room:
        return Refusal.REFUNDS_EXCEED_PAID
    return None


@dataclass(frozen=True)
class InvoiceRefunds:
    """An invoice's money in and money back, in minor units: what its "amount paid" and "amount refunded" mean.

    paid: the charges whose payment succeeded, in full (refunds do not lower it; a pending or failed payment
        brought nothing in).
    returned: what went back against those payments: a paid charge marked refunded counts in full (its money went
        back outside flexbill), any other paid charge counts its refunds that succeeded in Stripe; plus the credit
        notes that record money returned outside Stripe (bank transfer, cash...).
    in_flight: refunds of paid, unmarked charges sent to Stripe and not yet succeeded: they may still succeed, so
        they hold their share of what may be refunded.

    The invoice shows `refunded`, never more than `paid`. flexbill refuses every write of its own that would make
    returned + in_flight exceed paid; only refunds made directly in Stripe can (the money already moved), and
    `excess` says by how much.
    """

    paid: int
    returned: int
    in_flight: int = 0

    @property
    def refunded(self) -> int:
        return min(self.returned, self.paid)

    @property
    def excess(self) -> int:
        return max(self.returned - self.paid, 0)

    @property
    def excess_note(self) -> str:
        """What the invoice's audit event says when returns exceed what was paid; empty otherwise."""
        if not self.excess:
            return ""
        return (
            f"Money returned exceeds what was paid by {self.excess} (refunded directly in Stripe after it had been "
            "recorded as returned); the invoice shows it fully refunded."
        )

    @property
    def room(self) -> int:
        """What may still be refunded, marked refunded or recorded as returned on this invoice."""
        return max(self.paid - self.returned - self.in_flight, 0)


def invoice_refunds(charges, *, outside_refunds: int) -> InvoiceRefunds:
    """The figures of an invoice from its charges (any objects with the Charge fields) and the sum of its credit
    notes recording money returned outside Stripe."""
    paid = returned = in_flight = 0
    for charge in charges:
        if charge.payment_status != ChargeStatus.SUCCESS:
            continue
        paid += charge.amount
        if charge.marked_refunded_at is not None:
            returned += charge.amount
        else:
            returned += charge.amount_refunded
            in_flight += charge.amount_reserved - charge.amount_refunded
    return InvoiceRefunds(paid=paid, returned=returned + outside_refunds, in_flight=in_flight)


def recorded_refund_refusal(*, amount: int, invoice: InvoiceRefunds) -> Refusal | None:
    """A credit note recording `amount` of money returned outside Stripe may not take the invoice's refunds
    beyond what was paid (a credit note without money returned is bounded by the invoice total instead)."""
    if amount > invoice.room:
        return Refusal.REFUNDS_EXCEED_PAID
    return None


def charge_status(*, payment_status: str, amount: int, amount_refunded: int, marked_refunded: bool) -> str:
    """A charge is Refunded when marked so, or when succeeded refunds cover all of it; else what the payment did.

    A refund that fails after having succeeded lowers amount_refunded, so the charge goes back to Success.
    """
    if marked_refunded or (payment_status == ChargeStatus.SUCCESS and amount_refunded >= amount):
        return ChargeStatus.REFUNDED
    return payment_status


def charge_display_status(*, status: str, amount: int, amount_refunded: int, amount_refund_pending: int) -> str:
    """The label staff see: Refund pending and Partially refunded are views of a Success charge."""
    if status == ChargeStatus.SUCCESS and amount_refund_pending > 0:
        return ChargeDisplayStatus.REFUND_PENDING
    if status == ChargeStatus.SUCCESS and amount_refunded > 0:
        return ChargeDisplayStatus.PARTIALLY_REFUNDED
    return status


def refund_totals(refunds) -> tuple[int, int]:
    """(amount refunded, amount reserved) from refund rows: succeeded ones, and all not failed or canceled."""
    refunded = sum(r.amount for r in refunds if r.status == RefundStatus.SUCCEEDED)
    reserved = sum(r.amount for r in refunds if r.status in RESERVING_REFUND_STATUSES)
    return refunded, reserved


def invoice_status(*, current: str, total: int, charge_statuses: list[str], amount_paid: int) -> str:
    """An invoice is Refunded when one of its charges is; otherwise its payments decide.

    Draft and voided invoices keep their status: no payment moves them.
    """
    if current in (InvoiceStatus.DRAFT, InvoiceStatus.VOIDED):
        return current
    if ChargeStatus.REFUNDED in charge_statuses:
        return InvoiceStatus.REFUNDED
    if amount_paid >= total and amount_paid > 0:
        return InvoiceStatus.PAID
    if amount_paid > 0:
        return InvoiceStatus.PARTIALLY_PAID
    if charge_statuses and all(s == ChargeStatus.FAILED for s in charge_statuses):
        return InvoiceStatus.FAILED
    return InvoiceStatus.AWAITING_PAYMENT


def amount_owed(*, total: int, amount_paid: int, amount_pending: int = 0) -> int:
    """What may still be charged: payments still pending (a SEPA debit in flight) count as paid until they fail,
    so the same invoice is never charged twice over."""
    return max(total - amount_paid - amount_pending, 0)


STRIPE_METHOD_FOR_INVOICE = {
    "card": InvoicePaymentMethod.STRIPE_CARD,
    "us_bank_account": InvoicePaymentMethod.STRIPE_ACH,
    "sepa_debit": InvoicePaymentMethod.STRIPE_SEPA,
    "bacs_debit": InvoicePaymentMethod.STRIPE_BACS,
}


# Incoming Stripe events (the inbox) -------------------------------------------------------------------------------
REFUND_EVENT_TYPES = frozenset(
    {"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated", "refund.failed"}
)


def inbox_ignore_reason(
    *, event_type: str, sync_enabled: bool, account: str | None, livemode: bool | None, key_mode: str | None
) -> str | None:
    """Why a verified Stripe event is stored but not applied; None when it is to be applied.

    An event of a connected account (`account` set) is about someone else's money: flexbill organizations
    connect with their own keys, so it is never applied. An event whose mode differs from the organization's key
    (a test event to a live key, or the reverse) names objects that key cannot see; `key_mode` is
    stripe_gateway.keys.key_mode of that key.
    """
    if not sync_enabled:
        return "Refund sync is off for this organization; stored only."
    if event_type not in REFUND_EVENT_TYPES:
        return f"{event_type} is not handled; stored only."
    if account is not None:
        return f"Event of connected account {account[:60]}; flexbill applies only its own account's events."
    event_mode = None if livemode is None else ("live" if livemode else "test")
    if event_mode is not None and key_mode is not None and event_mode != key_mode:
        return f"A {event_mode}-mode event does not match the organization's {key_mode} key."
    return None


def inbox_retry_delay(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … after the 1st, 2nd, 3rd failed attempt, at most 10 minutes apart."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 600))


def requested_refunds_to_release(*, amount: int, reserved: int, requested: list) -> list:
    """Refunds still "requested" or "awaiting_approval" in flexbill to release when what is reserved exceeds the charge.

    Stripe's refunds are the truth; a refund flexbill sent that Stripe does not list can no longer fit, so it
    cannot succeed, and one still awaiting approval could no longer be sent. Those awaiting approval go first (they
    never reached Stripe), then the newest requested ones, only as many as it takes.
    """
    released = []
    order = sorted(
        requested, key=lambda r: (r.status == RefundStatus.AWAITING_APPROVAL, r.created_at, r.pk), reverse=True
    )
    for refund in order:
        if reserved <= amount:
            break
        released.append(refund)
        reserved -= refund.amount
    return released
