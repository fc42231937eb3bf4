"""Pure rules of the Stripe inbox: which verified events are applied, how long a retry waits, and which requested
refunds make room for what Stripe reports."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexbill.billing import rules

pytestmark = pytest.mark.nostripe


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({}, None),
        ({"sync_enabled": False}, "Refund sync is off"),
        ({"event_type": "customer.created"}, "customer.created is not handled"),
        ({"account": "acct_1Other"}, "connected account acct_1Other"),
        ({"livemode": True}, "live-mode event"),
        ({"livemode": False, "key_mode": "live"}, "test-mode event"),
        ({"livemode": None}, None),  # Stripe always sends livemode; an event without it is judged by the rest
        ({"livemode": True, "key_mode": None}, None),  # a key of unknown mode: nothing to compare
    ],
)
def test_inbox_applies_only_refund_events_of_the_organizations_own_account_and_mode(event, expected):
    decision = {
        "event_type": "charge.refunded",
        "sync_enabled": True,
        "account": None,
        "livemode": False,
        "key_mode": "test",
        **event,
    }

    reason = rules.inbox_ignore_reason(**decision)

    assert (reason is None) if expected is None else (expected in reason)


def test_retries_wait_twice_as_long_each_time_up_to_ten_minutes():
    waits = [rules.inbox_retry_delay(n).total_seconds() for n in range(1, 10)]

    assert waits == [5, 10, 20, 40, 80, 160, 320, 600, 600]


@dataclass
class Requested:
    pk: int
    amount: int
    created_at: datetime
    status: str = "requested"


@given(
    amount=st.integers(min_value=1, max_value=10_000),
    stripe_total=st.integers(min_value=0, max_value=10_000),
    requested=st.lists(st.integers(min_value=1, max_value=5_000), max_size=5),
)
def test_only_as_many_requested_refunds_are_released_as_it_takes_newest_first(amount, stripe_total, requested):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    refunds = [Requested(n, a, start + timedelta(minutes=n)) for n, a in enumerate(requested)]
    reserved = stripe_total + sum(requested)

    released = rules.requested_refunds_to_release(amount=amount, reserved=reserved, requested=refunds)

    left = reserved - sum(r.amount for r in released)
    assert left <= amount or len(released) == len(refunds)
    assert [r.pk for r in released] == sorted((r.pk for r in released), reverse=True)  # newest first
    if released:  # none released beyond what it took: without the last one released it did not fit yet
        assert left + released[-1].amount > amount


def test_refunds_awaiting_approval_are_released_before_requested_ones():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    sent = Requested(1, 3000, start + timedelta(minutes=5))
    waiting = Requested(2, 3000, start, status="awaiting_approval")

    released = rules.requested_refunds_to_release(amount=10000, reserved=13000, requested=[sent, waiting])

    assert released == [waiting]
