"""Bulk refund rules without a database: percent amounts in whole minor units, and what a refund makes of an item
(docs/rules.md, rule 22)."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexbill.billing.models import RefundStatus
from flexbill.billing.rules import MAX_AMOUNT
from flexbill.refund_batches.rules import item_status, percent_amount

pytestmark = pytest.mark.nostripe


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (10000, 10, 1000),
        (3333, 15, 500),  # 499.95 rounds up
        (3333, 50, 1667),  # 1666.5: a half rounds up
        (1, 50, 1),  # 0.5 rounds up to one minor unit
        (49, 1, 0),  # 0.49 rounds down to nothing (the item is refused)
        (50, 1, 1),  # 0.5
        (999, 100, 999),
        (1, 1, 0),
    ],
)
def test_percent_amount_rounds_half_up_to_a_whole_minor_unit(amount, percent, expected):
    assert percent_amount(amount, percent) == expected


@given(st.integers(min_value=1, max_value=MAX_AMOUNT), st.integers(min_value=1, max_value=100))
def test_percent_amount_is_the_exact_share_rounded_half_up_and_never_more_than_the_charge(amount, percent):
    exact = Decimal(amount) * percent / 100
    assert percent_amount(amount, percent) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert 0 <= percent_amount(amount, percent) <= amount
    assert percent_amount(amount, 100) == amount


@pytest.mark.parametrize(
    ("refund_status", "expected"),
    [
        (RefundStatus.SUCCEEDED, "succeeded"),
        (RefundStatus.PENDING, "succeeded"),
        (RefundStatus.REQUIRES_ACTION, "succeeded"),
        (RefundStatus.REQUESTED, "succeeded"),
        ("awaiting_approval", "awaiting_approval"),
        (RefundStatus.FAILED, "failed"),
        (RefundStatus.CANCELED, "failed"),
    ],
)
def test_an_item_takes_its_status_from_the_refund_the_refund_service_returned(refund_status, expected):
    assert item_status(refund_status) == expected


def test_every_refund_status_gives_an_item_status_other_than_pending():
    assert {item_status(s) for s in RefundStatus.values} <= {"succeeded", "failed", "awaiting_approval"}
