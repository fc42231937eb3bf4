"""Pure rules of bulk refunds: how much a percent refunds, and what an item's refund makes of the item."""

from flexbill.choices import RefundBatchItemStatus, RefundStatus

MAX_CHARGES = 1000


def percent_amount(amount: int, percent: int) -> int:
    """`percent` % of `amount` minor units, rounded to a whole minor unit, half up (docs/rules.md, rule 22).

    Exact integer arithmetic, no floats: 15 % of 3333 is 499.95 → 500; 50 % of 1 is 0.5 → 1; 1 % of 49 is
    0.49 → 0, which refunds nothing and is refused.
    """
    return (2 * amount * percent + 100) // 200


# The statuses a refund of the refund service has once the service returns it, and what they make of the item.
# Awaiting approval: the organization's approval threshold held the refund back (nothing sent to Stripe yet).
_ITEM_STATUS = {
    RefundStatus.REQUESTED: RefundBatchItemStatus.SUCCEEDED,
    RefundStatus.PENDING: RefundBatchItemStatus.SUCCEEDED,
    RefundStatus.REQUIRES_ACTION: RefundBatchItemStatus.SUCCEEDED,
    RefundStatus.SUCCEEDED: RefundBatchItemStatus.SUCCEEDED,
    RefundStatus.AWAITING_APPROVAL: RefundBatchItemStatus.AWAITING_APPROVAL,
    RefundStatus.FAILED: RefundBatchItemStatus.FAILED,
    RefundStatus.CANCELED: RefundBatchItemStatus.FAILED,
}


def item_status(refund_status: str) -> RefundBatchItemStatus:
    """The item's status for the refund the refund service returned for it."""
    return _ITEM_STATUS[refund_status]


NOTHING_TO_REFUND = "{percent} % of this charge rounds to nothing, so there is nothing to refund."


def percent_refusal_detail(percent: int) -> str:
    return NOTHING_TO_REFUND.format(percent=percent)
