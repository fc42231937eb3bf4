"""Pure rules of refund approvals (docs/rules.md, rule 21): which refunds wait, valid thresholds, who may approve
and until when, and what may have changed on the charge meanwhile."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from flexbill.billing.approval_rules import (
    approval_refusal,
    approved_charge_refusal,
    approvers_missing_detail,
    refund_needs_approval,
    threshold_refusal,
)
from flexbill.billing.refusals import Refusal

pytestmark = pytest.mark.nostripe
NOW = datetime(2026, 6, 1, tzinfo=UTC)
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    ("amount", "currency", "threshold", "waits"),
    [
        (4999, "usd", 5000, False),
        (5000, "usd", 5000, True),  # at the threshold: waits
        (5001, "USD", 5000, True),
        (10**12, "usd", None, False),  # approvals off
        (1, "eur", 5000, True),  # another currency cannot be compared: always waits
    ],
)
def test_a_refund_at_or_above_the_threshold_in_the_default_currency_waits(amount, currency, threshold, waits):
    assert refund_needs_approval(amount=amount, currency=currency, threshold=threshold, default_currency="usd") is waits


@given(amount=st.integers(1, 10**12), threshold=st.integers(1, 10**12))
def test_whether_a_refund_waits_is_exactly_amount_at_least_threshold(amount, threshold):
    assert refund_needs_approval(amount=amount, currency="eur", threshold=threshold, default_currency="eur") is (
        amount >= threshold
    )


@pytest.mark.parametrize("value", [None, 1, 50000, 10**12])
def test_a_threshold_is_null_or_a_whole_amount_from_1_to_10_to_the_12(value):
    assert threshold_refusal(value) is None


@pytest.mark.parametrize("value", [0, -1, 10**12 + 1, True, False, 1.0, "5000", [1]])
def test_anything_else_is_no_threshold(value):
    assert "whole number of minor units" in threshold_refusal(value)


def test_the_approvers_missing_detail_says_how_many_there_are_and_what_to_do():
    detail = approvers_missing_detail(1)
    assert "at least 2 members" in detail and "has 1" in detail and "billing.refunds.approve" in detail


def refusal(status="awaiting_approval", requester=1, approver=2, age=timedelta(days=1)):
    return approval_refusal(
        status=status, requester_id=requester, approver_id=approver, created_at=NOW - age, now=NOW, valid_for=WEEK
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, None),
        ({"requester": None}, None),  # the requester's account is gone: anyone who may approve decides
        ({"approver": 1}, Refusal.OWN_REFUND),
        ({"status": "requested"}, Refusal.NOT_AWAITING_APPROVAL),
        ({"status": "canceled", "approver": 1}, Refusal.NOT_AWAITING_APPROVAL),
        ({"age": WEEK - timedelta(seconds=1)}, None),
        ({"age": WEEK}, Refusal.APPROVAL_EXPIRED),
    ],
)
def test_only_a_waiting_refund_is_approved_by_someone_else_before_it_expires(kwargs, expected):
    assert refusal(**kwargs) is expected


@dataclass
class ChargeLike:
    status: str = "success"
    payment_status: str = "success"
    payment_method_type: str = "card"
    charged_at: datetime = NOW - timedelta(days=10)


@pytest.mark.parametrize(
    ("charge", "expected"),
    [
        (ChargeLike(), None),
        (ChargeLike(status="refunded"), Refusal.ALREADY_REFUNDED),
        (ChargeLike(payment_status="failed", status="failed"), Refusal.NOT_SUCCEEDED),
        (
            ChargeLike(payment_method_type="sepa_debit", charged_at=NOW - timedelta(days=181)),
            Refusal.TOO_OLD_FOR_REFUND,
        ),
        (ChargeLike(payment_method_type="card", charged_at=NOW - timedelta(days=400)), None),
    ],
)
def test_approval_rechecks_what_may_have_changed_on_the_charge(charge, expected):
    assert approved_charge_refusal(charge, now=NOW) is expected


@pytest.mark.parametrize(("value", "days"), [(None, 7), ("", 7), ("1", 1), ("365", 365)])
def test_the_approval_time_is_read_from_flexbill_refund_approval_days(monkeypatch, value, days):
    from flexbill import settings

    if value is None:
        monkeypatch.delenv("FLEXBILL_REFUND_APPROVAL_DAYS", raising=False)
    else:
        monkeypatch.setenv("FLEXBILL_REFUND_APPROVAL_DAYS", value)
    assert settings._env_number("FLEXBILL_REFUND_APPROVAL_DAYS", 7, low=1, high=365) == days


@pytest.mark.parametrize("value", ["0", "366", "-1", "7.5", "٧", "seven"])
def test_an_approval_time_that_is_not_1_to_365_days_stops_flexbill_with_a_message(monkeypatch, value):
    from flexbill import settings

    monkeypatch.setenv("FLEXBILL_REFUND_APPROVAL_DAYS", value)
    with pytest.raises(
        ImproperlyConfigured, match="FLEXBILL_REFUND_APPROVAL_DAYS must be a whole number from 1 to 365"
    ):
        settings._env_number("FLEXBILL_REFUND_APPROVAL_DAYS", 7, low=1, high=365)
