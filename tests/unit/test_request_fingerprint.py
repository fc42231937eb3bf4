"""An Idempotency-Key replay is the same request only when its body is the same field for field, and Stripe can
charge every currency an invoice may be in: pure functions, no database."""

import datetime
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexbill.billing.idempotency import request_fingerprint
from flexbill.currencies import STRIPE_CURRENCIES, normalize_currency

pytestmark = pytest.mark.nostripe

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
bodies = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


@given(bodies)
def test_the_order_of_the_keys_does_not_change_the_fingerprint(body):
    assert request_fingerprint(1, dict(reversed(list(body.items())))) == request_fingerprint(1, body)


@given(bodies, st.text(max_size=8), json_values)
def test_a_field_added_to_the_body_changes_the_fingerprint(body, key, value):
    if key in body:
        return
    assert request_fingerprint(1, {**body, key: value}) != request_fingerprint(1, body)


@given(bodies)
def test_the_same_body_on_another_charge_is_another_request(body):
    assert request_fingerprint(1, body) != request_fingerprint(2, body)


def test_a_value_of_another_type_is_another_request():
    prints = {request_fingerprint(1, {"amount": value}) for value in (1, 1.0, "1", True, [1], None)}
    assert len(prints) == 6


def test_a_missing_field_is_not_the_same_request_as_its_default():
    assert request_fingerprint(1, {}) != request_fingerprint(1, {"amount": 10000})
    assert request_fingerprint(1, {}) != request_fingerprint(1, {"currency": None})


@pytest.mark.parametrize("code", ["usd", "USD", "Eur", "jpy", "bhd", "xof"])
def test_currencies_stripe_charges_are_accepted_lower_case(code):
    assert normalize_currency(code) == code.lower()


@pytest.mark.parametrize(
    "code",
    ["zzz", "xxx", "XTS", "xau", "xag", "xdr", "usn", "clf", "dem", "hrk", "", "us", "usdd", None, 840, "u$d"],
)
def test_test_fund_metal_withdrawn_and_unknown_codes_are_not_currencies(code):
    assert normalize_currency(code) is None


def test_every_accepted_currency_is_a_three_letter_lower_case_code():
    assert all(len(c) == 3 and c.isalpha() and c.islower() for c in STRIPE_CURRENCIES)


def test_a_fingerprint_is_the_sha256_of_one_canonical_json_so_stored_ones_stay_valid_across_releases():
    # Fingerprints are stored with refunds: a change of spelling would refuse every replay of an earlier request.
    body = {"note": "x", "amount": 100, "on": datetime.date(2025, 1, 2)}
    canonical = '{"body":{"amount":100,"note":"x","on":"2025-01-02"},"charge":7}'
    assert request_fingerprint(7, body) == hashlib.sha256(canonical.encode()).hexdigest()
