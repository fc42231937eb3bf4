"""Payment methods are named as people know them ("Visa ···· 4242"), never by Stripe's type codes, from what Stripe
reports in a charge's payment_method_details."""

import pytest

from flexbill.billing.payment_methods import CARD_BRANDS, TYPE_NAMES, card_brand_name, payment_method_label
from flexbill.stripe_gateway.client import paid_with
from flexbill.stripe_gateway.types import PaymentMethodInfo

pytestmark = pytest.mark.nostripe


@pytest.mark.parametrize(
    ("parts", "label"),
    [
        ({"type": "card", "brand": "visa", "last4": "4242"}, "Visa ···· 4242"),
        ({"type": "card", "brand": "amex", "last4": "0005"}, "American Express ···· 0005"),
        ({"type": "card", "brand": "mastercard", "last4": "4444"}, "Mastercard ···· 4444"),
        ({"type": "sepa_debit", "last4": "3000"}, "SEPA Direct Debit ···· 3000"),
        ({"type": "bacs_debit", "last4": "2345"}, "BACS Direct Debit ···· 2345"),
        ({"type": "us_bank_account", "bank_name": "Chase", "last4": "6789"}, "US bank account (Chase) ···· 6789"),
        ({"type": "us_bank_account", "last4": "6789"}, "US bank account ···· 6789"),
        (
            {"type": "acss_debit", "bank_name": "TD Canada Trust", "last4": "1234"},
            "Pre-authorized debit (TD Canada Trust) ···· 1234",
        ),
        ({"type": "au_becs_debit", "last4": "3456"}, "BECS Direct Debit ···· 3456"),
        ({"type": "link"}, "Link"),
        ({"type": "paypal"}, "PayPal"),
    ],
)
def test_each_payment_method_type_reads_as_people_know_it(parts, label):
    assert payment_method_label(**parts) == label


@pytest.mark.parametrize("type_code", sorted(TYPE_NAMES))
def test_no_label_shows_stripes_type_code(type_code):
    label = payment_method_label(type=type_code, last4="1234")
    assert type_code not in label and label.endswith("···· 1234")


@pytest.mark.parametrize(("brand", "name"), sorted(CARD_BRANDS.items()))
def test_every_card_brand_stripe_reports_has_its_name(brand, name):
    assert payment_method_label(type="card", brand=brand, last4="1111") == f"{name} ···· 1111"


def test_a_type_or_brand_flexbill_has_no_name_for_reads_as_words_not_a_code():
    assert payment_method_label(type="new_debit_scheme", last4="9") == "New debit scheme ···· 9"
    assert card_brand_name("girocard_plus") == "Girocard plus"
    assert card_brand_name("unknown") == "Card"


def test_what_is_not_known_is_left_out_rather_than_shown_empty():
    assert payment_method_label(type="card") == "Card"
    assert payment_method_label(type="card", brand="visa") == "Visa"
    assert payment_method_label(type="sepa_debit") == "SEPA Direct Debit"
    assert payment_method_label(type="") == ""  # a payment recorded from Xero: the page shows a dash


def test_a_bank_name_or_last_four_from_stripe_cannot_break_the_line_or_grow_it():
    label = payment_method_label(type="us_bank_account", bank_name="Evil\nBank\u2028" + "x" * 500, last4="12\n34567")
    assert "\n" not in label and "\u2028" not in label
    assert label.endswith("···· 4567") and len(label) < 100


@pytest.mark.parametrize(
    ("details", "method"),
    [
        (
            {"type": "card", "card": {"brand": "visa", "last4": "4242", "exp_month": 12}},
            PaymentMethodInfo(id="", type="card", brand="visa", last4="4242"),
        ),
        (
            {"type": "sepa_debit", "sepa_debit": {"bank_code": "37040044", "country": "DE", "last4": "3000"}},
            PaymentMethodInfo(id="", type="sepa_debit", last4="3000"),
        ),
        (
            {"type": "bacs_debit", "bacs_debit": {"sort_code": "108800", "last4": "2345"}},
            PaymentMethodInfo(id="", type="bacs_debit", last4="2345"),
        ),
        (
            {
                "type": "us_bank_account",
                "us_bank_account": {"bank_name": "Chase", "last4": "6789", "routing_number": "110000000"},
            },
            PaymentMethodInfo(id="", type="us_bank_account", last4="6789", bank_name="Chase"),
        ),
    ],
)
def test_a_charges_payment_method_details_name_what_it_was_paid_with(details, method):
    assert paid_with(details) == method


@pytest.mark.parametrize("details", [None, {}, {"type": 3}, "card", {"type": "card", "card": "visa"}])
def test_payment_method_details_stripe_did_not_send_or_sent_oddly_name_nothing_wrong(details):
    method = paid_with(details)
    assert method is None or (method.brand, method.last4) == ("", "")


def test_last_four_keeps_only_ascii_digits_and_letters_stripe_could_send():
    assert payment_method_label(type="sepa_debit", last4="٣٠٠٠") == "SEPA Direct Debit"
    assert payment_method_label(type="sepa_debit", last4=" 30-00 ") == "SEPA Direct Debit ···· 3000"
