"""Refund eligibility and status derivation (docs/rules.md, rules 1-4, 6, 7): pure rules, no database, no Stripe."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from flexbill.billing import rules
from flexbill.billing.refusals import Refusal

pytestmark = pytest.mark.nostripe

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ChargeFacts:
    """The attributes rules.refund_eligibility reads from a Charge."""

    amount: int = 10000
    currency: str = "usd"
    source: str = "stripe"
    status: str = "success"
    payment_status: str = "success"
    stripe_charge_id: str | None = "ch_123"
    amount_reserved: int = 0
    payment_method_type: str = "card"
    charged_at: datetime = NOW - timedelta(days=1)


@dataclass(frozen=True)
class RefundRow:
    amount: int
    status: str


def eligibility(charge=ChargeFacts(), *, can_refund=True, amount=None, now=NOW):
    return rules.refund_eligibility(charge, now=now, can_refund=can_refund, amount=amount)


# Refusals ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("charge", "amount", "refusal"),
    [
        pytest.param(ChargeFacts(source="xero"), None, Refusal.NOT_STRIPE, id="xero"),
        pytest.param(ChargeFacts(source="quickbooks"), None, Refusal.NOT_STRIPE, id="quickbooks"),
        pytest.param(ChargeFacts(source="manual"), None, Refusal.NOT_STRIPE, id="manual"),
        pytest.param(
            ChargeFacts(status="pending", payment_status="pending", stripe_charge_id=None),
            None,
            Refusal.NOT_SUCCEEDED,
            id="pending",
        ),
        pytest.param(ChargeFacts(status="failed", payment_status="failed"), None, Refusal.NOT_SUCCEEDED, id="failed"),
        pytest.param(ChargeFacts(stripe_charge_id=None), None, Refusal.NO_STRIPE_CHARGE, id="no-stripe-charge"),
        pytest.param(ChargeFacts(stripe_charge_id=""), None, Refusal.NO_STRIPE_CHARGE, id="empty-stripe-charge"),
        pytest.param(
            ChargeFacts(status="refunded", amount_reserved=10000), None, Refusal.ALREADY_REFUNDED, id="refunded"
        ),
        pytest.param(ChargeFacts(status="refunded"), 1, Refusal.ALREADY_REFUNDED, id="marked-refunded"),
        pytest.param(
            ChargeFacts(amount_reserved=10000), None, Refusal.ALREADY_REFUNDED, id="fully-reserved-by-pending"
        ),
        pytest.param(ChargeFacts(), 10001, Refusal.AMOUNT_TOO_LARGE, id="more-than-charge"),
        pytest.param(ChargeFacts(amount_reserved=6000), 4001, Refusal.AMOUNT_TOO_LARGE, id="more-than-remains"),
        pytest.param(ChargeFacts(), 0, Refusal.AMOUNT_INVALID, id="zero"),
        pytest.param(ChargeFacts(), -100, Refusal.AMOUNT_INVALID, id="negative"),
        pytest.param(ChargeFacts(), True, Refusal.AMOUNT_INVALID, id="bool-true"),
        pytest.param(ChargeFacts(), False, Refusal.AMOUNT_INVALID, id="bool-false"),
        pytest.param(ChargeFacts(), 1.5, Refusal.AMOUNT_INVALID, id="float-fraction"),
        pytest.param(ChargeFacts(), 100.0, Refusal.AMOUNT_INVALID, id="float-whole"),
        pytest.param(ChargeFacts(), "100", Refusal.AMOUNT_INVALID, id="string"),
        pytest.param(ChargeFacts(), [100], Refusal.AMOUNT_INVALID, id="list"),
    ],
)
def test_refund_is_refused_with_the_code_that_says_why(charge, amount, refusal):
    result = eligibility(charge, amount=amount)
    assert not result.allowed
    assert result.refusal is refusal
    assert result.amount == 0


@pytest.mark.parametrize(
    "charge",
    [
        ChargeFacts(),
        ChargeFacts(source="xero"),
        ChargeFacts(status="refunded"),
        ChargeFacts(payment_method_type="sepa_debit", charged_at=NOW - timedelta(days=400)),
    ],
)
def test_permission_is_checked_before_anything_else(charge):
    assert eligibility(charge, can_refund=False, amount=-1).refusal is Refusal.PERMISSION_DENIED


@pytest.mark.parametrize("method", ["us_bank_account", "sepa_debit"])
def test_ach_and_sepa_charges_older_than_180_days_are_refused(method):
    old = ChargeFacts(payment_method_type=method, charged_at=NOW - timedelta(days=181))
    assert eligibility(old).refusal is Refusal.TOO_OLD_FOR_REFUND
    assert eligibility(old, amount=100).refusal is Refusal.TOO_OLD_FOR_REFUND


@pytest.mark.parametrize("method", ["us_bank_account", "sepa_debit"])
@pytest.mark.parametrize("age", [timedelta(days=179), timedelta(days=180)])
def test_ach_and_sepa_charges_within_180_days_may_be_refunded(method, age):
    recent = ChargeFacts(payment_method_type=method, charged_at=NOW - age)
    result = eligibility(recent)
    assert result.allowed
    assert result.amount == 10000


@pytest.mark.parametrize("method", ["card", "bacs_debit"])
def test_age_limit_applies_only_to_ach_and_sepa(method):
    ancient = ChargeFacts(payment_method_type=method, charged_at=NOW - timedelta(days=181))
    assert eligibility(ancient, amount=500) == rules.Eligibility(amount=500)


def test_refund_amount_defaults_to_what_remains_refundable():
    assert eligibility(ChargeFacts(amount_reserved=2500)).amount == 7500


@pytest.mark.parametrize(("reserved", "amount"), [(0, 1), (0, 10000), (6000, 4000), (9999, 1)])
def test_refund_of_at_most_what_remains_is_allowed_for_that_amount(reserved, amount):
    result = eligibility(ChargeFacts(amount_reserved=reserved), amount=amount)
    assert result.allowed
    assert result.amount == amount


@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        (Refusal.PERMISSION_DENIED, 403),
        (Refusal.AMOUNT_INVALID, 400),
        (Refusal.CURRENCY_MISMATCH, 400),
        (Refusal.NOT_STRIPE, 409),
        (Refusal.NOT_SUCCEEDED, 409),
        (Refusal.NO_STRIPE_CHARGE, 409),
        (Refusal.ALREADY_REFUNDED, 409),
        (Refusal.AMOUNT_TOO_LARGE, 409),
        (Refusal.TOO_OLD_FOR_REFUND, 409),
    ],
)
def test_every_refusal_has_one_sentence_and_the_contract_http_status(refusal, status):
    assert refusal.http_status == status
    assert refusal.sentence.endswith(".")
    assert len(refusal.sentence) > 20


@pytest.mark.parametrize(
    ("charge", "refusal"),
    [
        pytest.param(ChargeFacts(), None, id="paid"),
        pytest.param(ChargeFacts(amount_reserved=4000), None, id="partially-refunded"),
        pytest.param(ChargeFacts(source="xero", stripe_charge_id=None), None, id="paid-in-xero"),
        pytest.param(ChargeFacts(status="failed", payment_status="failed"), Refusal.NOT_PAID, id="failed"),
        pytest.param(
            ChargeFacts(status="pending", payment_status="pending", stripe_charge_id=None),
            Refusal.NOT_PAID,
            id="pending",
        ),
        pytest.param(
            ChargeFacts(status="refunded", amount_reserved=10000), Refusal.ALREADY_REFUNDED, id="refunded-in-stripe"
        ),
        pytest.param(ChargeFacts(status="refunded"), Refusal.ALREADY_REFUNDED, id="already-marked"),
    ],
)
def test_only_a_paid_charge_not_yet_refunded_may_be_marked_refunded(charge, refusal):
    assert rules.mark_refunded_refusal(charge) is refusal


@pytest.mark.parametrize(
    ("reserved", "invoice", "refusal"),
    [
        (0, rules.InvoiceRefunds(paid=10000, returned=0), None),
        # This charge's own refunds already count (in flight or succeeded): marking adds the 6000 left.
        (4000, rules.InvoiceRefunds(paid=10000, returned=0, in_flight=4000), None),
        (4000, rules.InvoiceRefunds(paid=10000, returned=4000), None),
        # Money already recorded as returned by a credit note: marking would show more refunded than paid.
        (0, rules.InvoiceRefunds(paid=10000, returned=1), Refusal.REFUNDS_EXCEED_PAID),
        (0, rules.InvoiceRefunds(paid=10000, returned=10000), Refusal.REFUNDS_EXCEED_PAID),
    ],
)
def test_marking_refunded_is_refused_when_the_invoice_would_show_more_refunded_than_paid(reserved, invoice, refusal):
    assert rules.mark_refunded_refusal(ChargeFacts(amount_reserved=reserved), invoice=invoice) is refusal


@dataclass(frozen=True)
class PaidCharge:
    """The attributes rules.invoice_refunds reads from a Charge."""

    amount: int = 10000
    payment_status: str = "success"
    status: str = "success"
    amount_refunded: int = 0
    amount_reserved: int = 0
    marked_refunded_at: datetime | None = None


def test_invoice_paid_counts_only_successful_payments_and_returned_counts_marks_in_full():
    figures = rules.invoice_refunds(
        [
            PaidCharge(amount=5000, amount_refunded=1000, amount_reserved=3000),
            PaidCharge(amount=2000, amount_refunded=500, amount_reserved=500, marked_refunded_at=NOW),
            PaidCharge(amount=7000, payment_status="failed"),
            PaidCharge(amount=9000, payment_status="pending"),
        ],
        outside_refunds=300,
    )
    assert figures == rules.InvoiceRefunds(paid=7000, returned=1000 + 2000 + 300, in_flight=2000)
    assert figures.refunded == 3300
    assert figures.room == 7000 - 3300 - 2000


def test_invoice_never_shows_more_refunded_than_paid_and_says_by_how_much_returns_exceed_it():
    figures = rules.InvoiceRefunds(paid=15000, returned=30000)
    assert figures.refunded == 15000
    assert figures.excess == 15000
    assert figures.room == 0


@pytest.mark.parametrize(
    ("amount", "returned", "in_flight", "refusal"),
    [
        (5000, 0, 0, None),
        (10000, 0, 0, None),
        (10001, 0, 0, Refusal.REFUNDS_EXCEED_PAID),
        (1, 10000, 0, Refusal.REFUNDS_EXCEED_PAID),
        (6001, 0, 4000, Refusal.REFUNDS_EXCEED_PAID),  # a refund still in flight may yet succeed
        (6000, 0, 4000, None),
    ],
)
def test_credit_note_recording_money_returned_stays_within_what_was_paid(amount, returned, in_flight, refusal):
    invoice = rules.InvoiceRefunds(paid=10000, returned=returned, in_flight=in_flight)
    assert rules.recorded_refund_refusal(amount=amount, invoice=invoice) is refusal


def test_nothing_paid_means_no_money_can_be_recorded_as_returned():
    assert rules.recorded_refund_refusal(amount=1, invoice=rules.InvoiceRefunds(paid=0, returned=0)) is (
        Refusal.REFUNDS_EXCEED_PAID
    )


def test_refund_through_stripe_is_bounded_by_what_the_invoice_may_still_refund():
    charge = ChargeFacts()
    invoice = rules.InvoiceRefunds(paid=10000, returned=7000)  # 7000 recorded as returned by a credit note
    assert rules.refund_eligibility(charge, now=NOW, can_refund=True, invoice=invoice).amount == 3000
    refused = rules.refund_eligibility(charge, now=NOW, can_refund=True, amount=3001, invoice=invoice)
    assert refused.refusal is Refusal.REFUNDS_EXCEED_PAID
    nothing_left = rules.InvoiceRefunds(paid=10000, returned=10000)
    assert rules.refund_eligibility(charge, now=NOW, can_refund=True, invoice=nothing_left).refusal is (
        Refusal.REFUNDS_EXCEED_PAID
    )


# Charge and invoice status -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payment_status", "amount_refunded", "marked", "expected"),
    [
        ("success", 0, False, "success"),
        ("success", 4000, False, "success"),
        ("success", 9999, False, "success"),
        ("success", 10000, False, "refunded"),
        ("success", 0, True, "refunded"),
        ("pending", 0, False, "pending"),
        ("failed", 0, False, "failed"),
        ("failed", 0, True, "refunded"),
    ],
)
def test_charge_is_refunded_when_succeeded_refunds_cover_it_or_it_is_marked(
    payment_status, amount_refunded, marked, expected
):
    status = rules.charge_status(
        payment_status=payment_status, amount=10000, amount_refunded=amount_refunded, marked_refunded=marked
    )
    assert status == expected


def test_refund_failing_after_success_turns_the_charge_back_to_success():
    refunded = [RefundRow(10000, "succeeded")]
    failed_later = [RefundRow(10000, "failed")]
    statuses = []
    for rows in (refunded, failed_later):
        amount_refunded, _ = rules.refund_totals(rows)
        statuses.append(
            rules.charge_status(
                payment_status="success", amount=10000, amount_refunded=amount_refunded, marked_refunded=False
            )
        )
    assert statuses == ["refunded", "success"]


@pytest.mark.parametrize(
    ("status", "amount_refunded", "pending", "expected"),
    [
        ("success", 0, 0, "success"),
        ("success", 0, 3000, "refund_pending"),
        ("success", 2000, 3000, "refund_pending"),
        ("success", 2000, 0, "partially_refunded"),
        ("refunded", 10000, 0, "refunded"),
        ("pending", 0, 0, "pending"),
    ],
)
def test_charge_display_status_shows_pending_and_partial_refunds(status, amount_refunded, pending, expected):
    shown = rules.charge_display_status(
        status=status, amount=10000, amount_refunded=amount_refunded, amount_refund_pending=pending
    )
    assert shown == expected


@pytest.mark.parametrize(
    ("current", "charge_statuses", "amount_paid", "expected"),
    [
        ("paid", ["refunded"], 10000, "refunded"),
        ("paid", ["success", "refunded"], 10000, "refunded"),
        ("paid", ["success"], 10000, "paid"),
        ("partially_paid", ["success"], 4000, "partially_paid"),
        ("awaiting_payment", [], 0, "awaiting_payment"),
        ("awaiting_payment", ["pending"], 0, "awaiting_payment"),
        ("awaiting_payment", ["failed"], 0, "failed"),
        ("awaiting_payment", ["failed", "pending"], 0, "awaiting_payment"),
        ("draft", ["refunded"], 10000, "draft"),
        ("voided", ["success"], 10000, "voided"),
        ("refunded", ["success"], 10000, "paid"),
    ],
)
def test_invoice_status_is_derived_from_its_charges(current, charge_statuses, amount_paid, expected):
    status = rules.invoice_status(
        current=current, total=10000, charge_statuses=charge_statuses, amount_paid=amount_paid
    )
    assert status == expected


def test_partial_refund_leaves_invoice_status():
    # A partly refunded charge stays "success" (docs/rules.md, rule 6), so the invoice stays "paid" (rule 7).
    charge = rules.charge_status(payment_status="success", amount=10000, amount_refunded=4000, marked_refunded=False)
    assert rules.invoice_status(current="paid", total=10000, charge_statuses=[charge], amount_paid=10000) == "paid"


def test_refund_totals_count_succeeded_as_refunded_and_every_live_refund_as_reserved():
    rows = [
        RefundRow(100, "succeeded"),
        RefundRow(200, "requested"),
        RefundRow(300, "pending"),
        RefundRow(400, "requires_action"),
        RefundRow(500, "failed"),
        RefundRow(600, "canceled"),
    ]
    assert rules.refund_totals(rows) == (100, 1000)


# Combining amounts (hypothesis) ------------------------------------------------------------------------------
REFUND_STATUSES = ["requested", "pending", "requires_action", "succeeded", "failed", "canceled"]


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    requests=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(min_value=-10, max_value=10**9)),
            st.sampled_from(REFUND_STATUSES),
        ),
        max_size=12,
    ),
)
def test_refund_totals_never_reserve_more_than_was_allowed(amount, requests):
    """Refunds accepted one after another by refund_eligibility, whatever becomes of each, never add up to more
    than the charge; and what succeeded never exceeds what is reserved."""
    charge = ChargeFacts(amount=amount)
    rows: list[RefundRow] = []
    for requested, outcome in requests:
        result = eligibility(charge, amount=requested)
        if result.allowed:
            assert 0 < result.amount <= rules.refundable_amount(charge.amount, charge.amount_reserved)
            rows.append(RefundRow(result.amount, outcome))
        refunded, reserved = rules.refund_totals(rows)
        assert 0 <= refunded <= reserved <= amount
        status = rules.charge_status(
            payment_status="success", amount=amount, amount_refunded=refunded, marked_refunded=False
        )
        charge = replace(charge, amount_reserved=reserved, status=status)
        assert rules.refundable_amount(amount, reserved) == amount - reserved


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    reserved=st.integers(min_value=0, max_value=10**9),
    requested=st.integers(min_value=1, max_value=2 * 10**9),
)
def test_an_allowed_refund_never_exceeds_what_remains(amount, reserved, requested):
    reserved = min(reserved, amount)
    result = eligibility(ChargeFacts(amount=amount, amount_reserved=reserved), amount=requested)
    if result.allowed:
        assert result.amount + reserved <= amount
    else:
        assert result.refusal in (Refusal.AMOUNT_TOO_LARGE, Refusal.ALREADY_REFUNDED)


# Boundaries and combinations the rules must hold at (each found by mutation testing, docs/mutation.md) ---------
@pytest.mark.parametrize(
    ("currency", "refusal"),
    [
        (None, None),
        ("usd", None),
        ("USD", None),
        ("Usd", None),
        ("eur", Refusal.CURRENCY_MISMATCH),
        ("EUR", Refusal.CURRENCY_MISMATCH),
        ("none", Refusal.CURRENCY_MISMATCH),
    ],
)
def test_a_refund_is_in_the_charges_currency_named_in_any_case_or_refused(currency, refusal):
    result = rules.refund_eligibility(ChargeFacts(), now=NOW, can_refund=True, amount=500, currency=currency)
    assert result == (rules.Eligibility(amount=500) if refusal is None else rules.Eligibility(refusal=refusal))


@pytest.mark.parametrize("invoice", [None, rules.InvoiceRefunds(paid=10000, returned=9999)])
def test_the_last_minor_unit_left_is_refunded_by_default(invoice):
    charge = ChargeFacts(amount_reserved=9999 if invoice is None else 0)
    assert rules.refund_eligibility(charge, now=NOW, can_refund=True, invoice=invoice) == rules.Eligibility(amount=1)


@pytest.mark.parametrize(
    ("amount_refunded", "pending", "expected"),
    [(0, 1, "refund_pending"), (1, 0, "partially_refunded"), (9999, 0, "partially_refunded")],
)
def test_one_minor_unit_refunded_or_pending_already_shows_on_the_charge(amount_refunded, pending, expected):
    shown = rules.charge_display_status(
        status="success", amount=10000, amount_refunded=amount_refunded, amount_refund_pending=pending
    )
    assert shown == expected


@pytest.mark.parametrize(
    ("total", "amount_paid", "expected"),
    [
        (1, 1, "paid"),
        (10000, 1, "partially_paid"),
        (10000, 9999, "partially_paid"),
        (10000, 10001, "paid"),
        # A zero invoice (the database allows it) is not paid by nothing: only a payment marks an invoice paid.
        (0, 0, "awaiting_payment"),
    ],
)
def test_an_invoice_is_paid_from_its_whole_total_and_partially_paid_from_one_minor_unit(total, amount_paid, expected):
    status = rules.invoice_status(current="awaiting_payment", total=total, charge_statuses=[], amount_paid=amount_paid)
    assert status == expected


@pytest.mark.parametrize(
    ("total", "amount_paid", "amount_pending", "owed"),
    [
        (10000, 0, 0, 10000),
        (10000, 4000, 0, 6000),
        (10000, 4000, 3000, 3000),
        (10000, 10000, 0, 0),
        (10000, 0, 10000, 0),
        (10000, 8000, 5000, 0),  # a pending debit beyond what is owed never makes the amount owed negative
        (10000, 12000, 0, 0),
    ],
)
def test_what_is_owed_is_the_total_less_payments_made_and_payments_still_pending(
    total, amount_paid, amount_pending, owed
):
    assert rules.amount_owed(total=total, amount_paid=amount_paid, amount_pending=amount_pending) == owed


def test_nothing_pending_is_assumed_when_no_pending_payments_are_given():
    assert rules.amount_owed(total=10000, amount_paid=4000) == 6000


def test_a_charge_refunded_in_full_still_counts_in_what_the_invoice_was_paid():
    # Its status is "refunded", its payment's is "success": amount paid follows the payment, refunds never lower it.
    refunded = PaidCharge(amount=10000, status="refunded", amount_refunded=10000, amount_reserved=10000)
    assert rules.invoice_refunds([refunded], outside_refunds=0) == rules.InvoiceRefunds(paid=10000, returned=10000)


PAID_CHARGES = st.builds(
    lambda amount, payment_status, refunded, in_flight, marked: PaidCharge(
        amount=amount,
        payment_status=payment_status,
        status="refunded" if marked or refunded == amount else payment_status,
        amount_refunded=min(refunded, amount),
        amount_reserved=min(refunded + in_flight, amount),
        marked_refunded_at=NOW if marked else None,
    ),
    amount=st.integers(min_value=1, max_value=10**6),
    payment_status=st.sampled_from(["success", "pending", "failed"]),
    refunded=st.integers(min_value=0, max_value=10**6),
    in_flight=st.integers(min_value=0, max_value=10**6),
    marked=st.booleans(),
)


@given(charges=st.lists(PAID_CHARGES, max_size=6), outside=st.integers(min_value=0, max_value=10**6))
@example(  # a failed payment before a paid one, and two charges each with refunds done and in flight
    charges=[
        PaidCharge(amount=3000, payment_status="failed", status="failed"),
        PaidCharge(amount=5000, amount_refunded=1000, amount_reserved=3000),
        PaidCharge(amount=4000, amount_refunded=500, amount_reserved=1500),
    ],
    outside=0,
)
def test_invoice_figures_are_the_sum_of_each_charges_whatever_their_order(charges, outside):
    each = [rules.invoice_refunds([charge], outside_refunds=0) for charge in charges]
    expected = rules.InvoiceRefunds(
        paid=sum(f.paid for f in each),
        returned=sum(f.returned for f in each) + outside,
        in_flight=sum(f.in_flight for f in each),
    )
    assert rules.invoice_refunds(charges, outside_refunds=outside) == expected
    assert rules.invoice_refunds(list(reversed(charges)), outside_refunds=outside) == expected


@given(rows=st.lists(st.builds(RefundRow, st.integers(min_value=1, max_value=10**6), st.sampled_from(REFUND_STATUSES))))
def test_refunds_in_flight_are_exactly_the_money_reserved_and_not_yet_refunded(rows):
    """The refunds report lists as in flight (IN_FLIGHT_REFUND_STATUSES) exactly what the charge and invoice
    figures hold as in flight: reserved, not succeeded."""
    refunded, reserved = rules.refund_totals(rows)
    assert sum(r.amount for r in rows if r.status in rules.IN_FLIGHT_REFUND_STATUSES) == reserved - refunded


@pytest.mark.parametrize("status", ["requested", "pending", "requires_action"])
def test_a_requested_pending_or_action_awaiting_refund_is_in_flight(status):
    assert status in rules.IN_FLIGHT_REFUND_STATUSES
    assert rules.refund_totals([RefundRow(700, status)]) == (0, 700)
