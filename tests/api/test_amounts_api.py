"""Every money field of the API is a whole number of minor units given as a JSON integer: a string, a float (even
12.0), a boolean, NaN or a huge integer is a 400 JSON error and nothing is created, charged or refunded."""

import json

import pytest

from flexbill.billing.models import Charge, CreditNote, Invoice, Refund
from flexbill.stripe_gateway.client import gateway_for


@pytest.fixture
def owner_api(api_client, owner):
    return api_client(owner)


# JSON text, not Python values: NaN and Infinity are what some clients send, and Python's json module reads them.
NOT_MINOR_UNITS = {
    "string": '"1250"',
    "comma-string": '"12,50"',
    "dot-string": '"12.50"',
    "arabic-indic-string": '"١٢"',
    "full-width-string": '"１２"',
    "float": "12.5",
    "whole-float": "12.0",
    "exponent": "1.25e3",
    "true": "true",
    "false": "false",
    "nan": "NaN",
    "infinity": "Infinity",
    "object": '{"value": 1250}',
    "list": "[1250]",
    "negative": "-1250",
    "zero": "0",
    "beyond-the-maximum": "1000000000001",
    "beyond-64-bits": str(2**64),
    "huge": "1" + "0" * 400,
}
# Where an amount is required; a refund's or a charge's may be null, for "all that remains".
REQUIRED_NOT_MINOR_UNITS = {**NOT_MINOR_UNITS, "null": "null"}


def post_raw(client, url: str, body: str):
    return client.post(url, data=body, content_type="application/json")


def assert_refused(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"detail", "code"} and body["detail"]


@pytest.mark.parametrize("amount", NOT_MINOR_UNITS.values(), ids=NOT_MINOR_UNITS.keys())
def test_refund_amount_that_is_not_a_json_integer_of_minor_units_is_a_400_and_refunds_nothing(
    owner_api, paid_charge, amount
):
    assert_refused(post_raw(owner_api, f"/api/v1/charges/{paid_charge.pk}/refunds", f'{{"amount": {amount}}}'))
    assert not Refund.objects.exists()
    assert gateway_for(paid_charge.organization).refunds_for_charge(paid_charge.stripe_charge_id) == []


@pytest.mark.parametrize("amount", REQUIRED_NOT_MINOR_UNITS.values(), ids=REQUIRED_NOT_MINOR_UNITS.keys())
def test_credit_note_amount_that_is_not_a_json_integer_of_minor_units_is_a_400(owner_api, paid_charge, amount):
    body = f'{{"amount": {amount}, "reason": "Goodwill"}}'
    assert_refused(post_raw(owner_api, f"/api/v1/invoices/{paid_charge.invoice_id}/credit-notes", body))
    assert not CreditNote.objects.exists()


@pytest.mark.parametrize("amount", REQUIRED_NOT_MINOR_UNITS.values(), ids=REQUIRED_NOT_MINOR_UNITS.keys())
def test_invoice_line_amount_that_is_not_a_json_integer_of_minor_units_is_a_400(owner_api, org, make_customer, amount):
    customer, _ = make_customer(org)
    line = f'{{"description": "Hot desk", "amount": {amount}}}'
    body = f'{{"customer": {customer.pk}, "currency": "usd", "payment_method": "stripe_card", "lines": [{line}]}}'
    assert_refused(post_raw(owner_api, "/api/v1/invoices", body))
    assert not Invoice.objects.filter(customer=customer).exists()


@pytest.mark.parametrize("source", ["stripe", "xero"])
@pytest.mark.parametrize("amount", NOT_MINOR_UNITS.values(), ids=NOT_MINOR_UNITS.keys())
def test_charge_amount_that_is_not_a_json_integer_of_minor_units_is_a_400_and_charges_nothing(
    owner_api, org, make_customer, make_invoice, source, amount
):
    customer, method = make_customer(org)
    invoice = make_invoice(org, customer, total=5000)
    body = f'{{"source": "{source}", "payment_method": {method.pk}, "amount": {amount}, "reference": "X-1"}}'
    assert_refused(post_raw(owner_api, f"/api/v1/invoices/{invoice.pk}/charges", body))
    assert not Charge.objects.filter(invoice=invoice).exists()


def test_refund_amount_given_as_a_json_integer_of_minor_units_is_taken_exactly(owner_api, paid_charge):
    response = owner_api.post(
        f"/api/v1/charges/{paid_charge.pk}/refunds", data=json.dumps({"amount": 1250}), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    refunds = gateway_for(paid_charge.organization).refunds_for_charge(paid_charge.stripe_charge_id)
    assert [r.amount for r in refunds] == [1250]
