"""Why an action on a charge is refused: one code, one sentence, shared by rules, API and UI."""

from enum import StrEnum

from flexbill.errors import FlexbillError


class Refusal(StrEnum):
    NOT_STRIPE = "not_stripe"
    NOT_SUCCEEDED = "not_succeeded"
    NO_STRIPE_CHARGE = "no_stripe_charge"
    ALREADY_REFUNDED = "already_refunded"
    AMOUNT_TOO_LARGE = "amount_too_large"
    AMOUNT_INVALID = "amount_invalid"
    TOO_OLD_FOR_REFUND = "too_old_for_refund"
    PERMISSION_DENIED = "permission_denied"
    CURRENCY_MISMATCH = "currency_mismatch"
    NOT_PAID = "not_paid"
    REFUNDS_EXCEED_PAID = "refunds_exceed_paid"
    OWN_REFUND = "own_refund"
    NOT_AWAITING_APPROVAL = "not_awaiting_approval"
    APPROVAL_EXPIRED = "approval_expired"

    @property
    def sentence(self) -> str:
        return SENTENCES[self]

    @property
    def http_status(self) -> int:
        if self in (Refusal.PERMISSION_DENIED, Refusal.OWN_REFUND):
            return 403
        if self in (Refusal.AMOUNT_INVALID, Refusal.CURRENCY_MISMATCH):
            return 400
        return 409


SENTENCES = {
    Refusal.NOT_STRIPE: "Only charges made through flexbill's Stripe integration can be refunded here; "
    "this charge was recorded from another system (Xero, QuickBooks or manually). "
    "Record the refund with a credit note.",
    Refusal.NOT_SUCCEEDED: "Only successful charges can be refunded; this charge is pending or failed.",
    Refusal.NO_STRIPE_CHARGE: "There is no Stripe charge behind this payment yet, so there is nothing to refund.",
    Refusal.ALREADY_REFUNDED: "This charge is already fully refunded.",
    Refusal.AMOUNT_TOO_LARGE: "The amount is more than what remains refundable on this charge.",
    Refusal.AMOUNT_INVALID: "The amount must be a whole number of minor units (cents) greater than zero.",
    Refusal.TOO_OLD_FOR_REFUND: "ACH and SEPA Direct Debit payments can only be refunded within 180 days; "
    "this one is older. Record the refund with a credit note instead.",
    Refusal.PERMISSION_DENIED: "You do not have permission to do this. Ask an owner or admin of your organization.",
    Refusal.CURRENCY_MISMATCH: "The currency does not match the charge's currency.",
    Refusal.NOT_PAID: "Only a paid charge can be marked refunded; this charge is pending or failed, "
    "so no money came in to give back.",
    Refusal.REFUNDS_EXCEED_PAID: "This would record more refunded on the invoice than was paid: its payments are "
    "already refunded (in Stripe, marked refunded, or recorded with credit notes) up to what remains.",
    Refusal.OWN_REFUND: "You asked for this refund, so someone else who may approve refunds must approve it.",
    Refusal.NOT_AWAITING_APPROVAL: "This refund is no longer waiting for approval: it was already approved, "
    "rejected or it expired.",
    Refusal.APPROVAL_EXPIRED: "This refund waited too long for approval and has expired; its amount is released. "
    "Ask for the refund again if it is still due.",
}


class RefundRefused(FlexbillError):
    def __init__(self, refusal: Refusal, detail: str | None = None):
        super().__init__(detail or refusal.sentence, code=refusal.value)
        self.refusal = refusal
        self.status = refusal.http_status
