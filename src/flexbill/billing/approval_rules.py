"""Pure rules of refund approvals (docs/rules.md, rule 21): which refunds wait for a second person, who may decide
them and until when. No ORM, no I/O; `now` is a parameter."""

from datetime import datetime, timedelta

from flexbill.choices import ChargeStatus, RefundStatus

from .refusals import Refusal
from .rules import DEBIT_METHOD_TYPES, DEBIT_REFUND_WINDOW, MAX_AMOUNT

# Nobody approves their own refund, so approvals need a second person who may approve.
MIN_APPROVERS = 2


def refund_needs_approval(*, amount: int, currency: str, threshold: int | None, default_currency: str) -> bool:
    """A refund at or above the threshold waits for approval. The threshold is in the organization's default
    currency; a refund in any other currency cannot be compared without an exchange rate, so while approvals are
    on it always waits (four eyes rather than none)."""
    if threshold is None:
        return False
    if currency.lower() != default_currency.lower():
        return True
    return amount >= threshold


def threshold_refusal(value: object) -> str | None:
    """Why `value` cannot be an approval threshold (None turns approvals off); None when it can."""
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= MAX_AMOUNT:
        return (
            "refund_approval_threshold is a whole number of minor units (cents) from 1 to "
            f"{MAX_AMOUNT}, or null to turn approvals off."
        )
    return None


def approvers_missing_detail(approvers: int) -> str:
    return (
        f"Refund approvals need at least {MIN_APPROVERS} members who may approve refunds "
        f"(billing.refunds.approve), because nobody approves their own refund; this organization has {approvers}. "
        "Give the permission to another member first."
    )


def approvers_kept_detail(approvers: int) -> str:
    return (
        f"Refund approvals are on and need at least {MIN_APPROVERS} members who may approve refunds "
        f"(billing.refunds.approve); this change would leave {approvers}. Give the permission to another member "
        "first, or turn approvals off by clearing the approval threshold."
    )


def approval_expired(*, created_at: datetime, now: datetime, valid_for: timedelta) -> bool:
    return now - created_at >= valid_for


def approval_refusal(
    *,
    status: str,
    requester_id: int | None,
    approver_id: int,
    created_at: datetime,
    now: datetime,
    valid_for: timedelta,
) -> Refusal | None:
    """May this approver approve this refund now? Only a refund still awaiting approval, never by its requester,
    and not once its time is up."""
    if status != RefundStatus.AWAITING_APPROVAL:
        return Refusal.NOT_AWAITING_APPROVAL
    if requester_id is not None and requester_id == approver_id:
        return Refusal.OWN_REFUND
    if approval_expired(created_at=created_at, now=now, valid_for=valid_for):
        return Refusal.APPROVAL_EXPIRED
    return None


def approved_charge_refusal(charge, *, now: datetime) -> Refusal | None:
    """What may have changed on the charge while its refund waited: marked refunded (its money went back outside
    flexbill), or a debit payment that passed Stripe's 180-day refund window. The amount stayed reserved."""
    if charge.status == ChargeStatus.REFUNDED:
        return Refusal.ALREADY_REFUNDED
    if charge.payment_status != ChargeStatus.SUCCESS:
        return Refusal.NOT_SUCCEEDED
    if charge.payment_method_type in DEBIT_METHOD_TYPES and now - charge.charged_at > DEBIT_REFUND_WINDOW:
        return Refusal.TOO_OLD_FOR_REFUND
    return None
