"""Bookkeeping through the REST API: invoice numbers, invoice currencies, what may be marked refunded, money
recorded as returned by credit notes, and Idempotency-Key replays. Every refusal leaves everything as it was."""

import json

import pytest

from api_calls import assert_error, post, post_raw
from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, CreditNote, Invoice, Refund


def everything(org) -> tuple:
    """What a refusal must leave unchanged: every row a write could touch, and the audit trail."""
    return (
        list(Invoice.objects.filter(organization=org).order_by("id").values()),
        list(Charge.objects.filter(organization=org).order_by("id").values()),
        list(Refund.objects.filter(organization=org).order_by("id").values()),
        list(CreditNote.objects.filter(organization=org).order_by("id").values()),
        AuditEvent.objects.filter(organization=org).count(),
    )


@pytest.fixture
def owner_api(api_client, owner):
    return api_client(owner)


@pytest.fixture
def customer(org, make_customer):
    return make_customer(org)[0]


def invoice_body(customer, **fields):
    return {
        "customer": customer.pk,
        "currency": "usd",
        "payment_method": "bank_transfer",
        "lines": [{"description": "Hot desk", "amount": 15000}],
        **fields,
    }


# Invoice numbers -----------------------------------------------------------------------------------------------
def test_invoice_number_already_used_is_a_409_that_names_it(org, owner_api, customer):
    assert post(owner_api, "/api/v1/invoices", invoice_body(customer, number="INV-000014")).status_code == 201
    before = everything(org)

    response = post(owner_api, "/api/v1/invoices", invoice_body(customer, number="INV-000014"))

    body = assert_error(response, 409, "number_taken")
    assert body["detail"] == "Invoice number INV-000014 is already used."
    assert everything(org) == before


def test_invoice_number_with_surrounding_spaces_is_the_same_number(owner_api, customer):
    assert post(owner_api, "/api/v1/invoices", invoice_body(customer, number="A-1")).status_code == 201
    assert_error(post(owner_api, "/api/v1/invoices", invoice_body(customer, number="  A-1 ")), 409, "number_taken")


def automatic(owner_api, customer) -> int:
    response = post(owner_api, "/api/v1/invoices", invoice_body(customer))
    assert response.status_code == 201, response.content
    return int(response.json()["number"].removeprefix("INV-"))


def test_automatic_numbering_skips_a_number_given_by_hand(org, owner_api, customer):
    first = automatic(owner_api, customer)
    taken = f"INV-{first + 2:06d}"  # what automatic numbering would soon reach
    assert post(owner_api, "/api/v1/invoices", invoice_body(customer, number=taken)).status_code == 201

    numbers = [automatic(owner_api, customer) for _ in range(3)]

    assert numbers == [first + 1, first + 3, first + 4]


def test_automatic_numbering_skips_a_run_of_numbers_given_by_hand(org, owner_api, customer):
    first = automatic(owner_api, customer)
    for n in range(first + 2, first + 63):  # longer than one look-ahead window
        services.invoice_create(
            organization=org,
            customer=customer,
            currency="usd",
            payment_method="cash",
            lines=[{"description": "Desk", "amount": 100}],
            number=f"INV-{n:06d}",
            actor=SYSTEM,
        )

    assert [automatic(owner_api, customer) for _ in range(2)] == [first + 1, first + 63]


def test_the_same_number_in_another_organization_is_free(owner_api, customer, make_org, make_member, api_client):
    assert post(owner_api, "/api/v1/invoices", invoice_body(customer, number="SHARED-1")).status_code == 201
    other = make_org()
    other_api = api_client(make_member(other, "owner"))
    other_customer = services.customer_create(organization=other, name="Bo", email="bo@example.com", actor=SYSTEM)
    response = post(other_api, "/api/v1/invoices", invoice_body(other_customer, number="SHARED-1"))
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("INV\n1", id="newline"),
        pytest.param("INV\t1", id="tab"),
        pytest.param("INV\r1", id="carriage-return"),
        pytest.param("INV\x1b1", id="escape"),
        pytest.param("INV\x7f1", id="delete"),
        pytest.param("INV\u200b1", id="zero-width-space"),
        pytest.param("INV\u202e1", id="right-to-left-override"),
        pytest.param("INV\u20281", id="line-separator"),
        pytest.param("x" * 41, id="41-characters"),
        pytest.param("   ", id="blank"),
        pytest.param("", id="empty"),
    ],
)
def test_invoice_number_with_control_characters_blank_or_over_long_is_a_400(org, owner_api, customer, number):
    before = everything(org)
    assert_error(post(owner_api, "/api/v1/invoices", invoice_body(customer, number=number)), 400)
    assert everything(org) == before


def test_invoice_number_with_nul_is_a_400(org, owner_api, customer):
    before = everything(org)
    raw = json.dumps(invoice_body(customer, number="INV\u00001"))
    assert_error(post_raw(owner_api, "/api/v1/invoices", raw), 400)
    assert everything(org) == before


# Invoice currencies --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("currency", ["zzz", "xxx", "XTS", "xau", "xdr", "usn", "dem", "us1"])
def test_invoice_currency_stripe_cannot_charge_is_a_400_with_a_message(org, owner_api, customer, currency):
    before = everything(org)
    body = assert_error(
        post(owner_api, "/api/v1/invoices", invoice_body(customer, currency=currency)), 400, "currency_invalid"
    )
    assert "ISO 4217" in body["detail"]
    assert everything(org) == before


@pytest.mark.parametrize(("given", "stored"), [("EUR", "eur"), ("Gbp", "gbp"), ("jpy", "jpy")])
def test_invoice_currency_is_case_insensitive_and_stored_lower_case(owner_api, customer, given, stored):
    response = post(owner_api, "/api/v1/invoices", invoice_body(customer, currency=given))
    assert response.status_code == 201, response.content
    assert response.json()["currency"] == stored


# Marking refunded ----------------------------------------------------------------------------------------------
@pytest.fixture
def declined_charge(org, make_customer, make_invoice):
    customer, method = make_customer(org, "pm_card_chargeCustomerFail")
    invoice = make_invoice(org, customer, total=15000)
    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)
    assert charge.status == "failed"
    return charge


@pytest.fixture
def pending_charge(org, customer, make_invoice, make_pending_charge):
    return make_pending_charge(make_invoice(org, customer, total=15000))


def mark(client, charge, via):
    if via == "status":
        return post(client, f"/api/v1/charges/{charge.pk}/status", {"status": "refunded"})
    return client.delete(f"/api/v1/charges/{charge.pk}")


@pytest.mark.parametrize("via", ["status", "delete"])
@pytest.mark.parametrize("which", ["declined_charge", "pending_charge"])
def test_marking_a_charge_that_was_never_paid_refunded_is_a_409(request, org, owner_api, via, which):
    charge = request.getfixturevalue(which)
    before = everything(org)

    body = assert_error(mark(owner_api, charge, via), 409, "not_paid")

    assert "Only a paid charge can be marked refunded" in body["detail"]
    assert everything(org) == before
    assert Invoice.objects.get(pk=charge.invoice_id).status != "refunded"


@pytest.mark.parametrize("via", ["status", "delete"])
def test_marking_refunded_after_money_was_recorded_as_returned_is_a_409(org, owner, owner_api, paid_charge, via):
    services.credit_note_create(
        actor=Actor.for_membership(owner),
        invoice=paid_charge.invoice,
        amount=2500,
        reason="Part back",
        refund_method="cash",
    )
    before = everything(org)

    assert_error(mark(owner_api, paid_charge, via), 409, "refunds_exceed_paid")

    assert everything(org) == before


@pytest.mark.parametrize("via", ["status", "delete"])
def test_marking_a_partially_refunded_charge_refunded_is_a_200(owner, owner_api, paid_charge, via):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=2500)
    response = mark(owner_api, paid_charge, via)
    assert response.status_code == 200, response.content
    invoice = owner_api.get(f"/api/v1/invoices/{paid_charge.invoice_id}").json()
    assert (invoice["status"], invoice["amount_paid"], invoice["amount_refunded"]) == ("refunded", 10000, 10000)


# Credit notes recording money returned -------------------------------------------------------------------------
def credit_note(client, invoice, amount, *, returned=True):
    body = {"amount": amount, "reason": "Returned by bank transfer"}
    if returned:
        body["refund"] = {"method": "bank_transfer", "reference": "TR-1"}
    return post(client, f"/api/v1/invoices/{invoice.pk}/credit-notes", body)


def test_money_returned_on_a_fully_refunded_invoice_is_a_409_and_credit_only_is_still_a_201(
    org, owner, owner_api, paid_charge
):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge)
    before = everything(org)

    body = assert_error(credit_note(owner_api, paid_charge.invoice, 10000), 409, "refunds_exceed_paid")

    assert "Nothing is left to refund on this invoice" in body["detail"]
    assert everything(org) == before
    assert credit_note(owner_api, paid_charge.invoice, 10000, returned=False).status_code == 201


def test_money_returned_on_a_never_paid_invoice_is_a_409(org, owner_api, customer, make_invoice):
    invoice = make_invoice(org, customer, total=15000)
    before = everything(org)

    body = assert_error(credit_note(owner_api, invoice, 15000), 409, "refunds_exceed_paid")

    assert "Nothing has been paid on this invoice" in body["detail"]
    assert everything(org) == before


def test_money_returned_beyond_what_remains_is_a_409_that_says_what_remains(org, owner, owner_api, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=6000)
    body = assert_error(credit_note(owner_api, paid_charge.invoice, 4001), 409, "refunds_exceed_paid")
    assert "only 4000 of the 10000 paid" in body["detail"]
    response = credit_note(owner_api, paid_charge.invoice, 4000)
    assert response.status_code == 201, response.content
    invoice = owner_api.get(f"/api/v1/invoices/{paid_charge.invoice_id}").json()
    assert (invoice["amount_paid"], invoice["amount_refunded"]) == (10000, 10000)


def test_refund_through_stripe_of_money_already_recorded_as_returned_is_a_409(org, owner, owner_api, paid_charge):
    services.credit_note_create(
        actor=Actor.for_membership(owner),
        invoice=paid_charge.invoice,
        amount=10000,
        reason="Cash back",
        refund_method="cash",
    )
    before = everything(org)

    assert_error(post(owner_api, f"/api/v1/charges/{paid_charge.pk}/refunds", {}), 409, "refunds_exceed_paid")

    assert everything(org) == before


# Idempotency-Key replays ---------------------------------------------------------------------------------------
def refund(client, charge, body, key, raw: str | None = None):
    url = f"/api/v1/charges/{charge.pk}/refunds"
    if raw is not None:
        return post_raw(client, url, raw, **{"Idempotency-Key": key})
    return post(client, url, body, **{"Idempotency-Key": key})


@pytest.mark.parametrize(
    "replay",
    [
        pytest.param({"amount": 1000, "currency": "usd"}, id="added-currency"),
        pytest.param({"amount": 1000, "unknown": 1}, id="added-unknown-field"),
        pytest.param({"amount": 1000, "reason": "requested_by_customer"}, id="added-default"),
        pytest.param({"amount": 1000, "note": ""}, id="added-empty-note"),
        pytest.param({"amount": 1001}, id="changed-amount"),
        pytest.param({}, id="dropped-amount"),
    ],
)
def test_idempotency_key_replayed_with_a_field_added_changed_or_dropped_is_a_409(org, owner_api, paid_charge, replay):
    first = refund(owner_api, paid_charge, {"amount": 1000}, "key-1")
    assert first.status_code == 201, first.content
    before = everything(org)

    assert_error(refund(owner_api, paid_charge, replay, "key-1"), 409, "idempotency_key_reused")

    assert everything(org) == before


def test_idempotency_key_replayed_with_its_keys_reordered_and_spaced_differently_is_the_same_refund(
    owner_api, paid_charge
):
    first = refund(owner_api, paid_charge, None, "key-2", raw='{"amount": 1000, "note": "desk", "currency": "usd"}')
    again = refund(owner_api, paid_charge, None, "key-2", raw='{"currency":"usd","note":"desk","amount":1000}')
    assert first.status_code == again.status_code == 201, again.content
    assert again.json()["id"] == first.json()["id"]
    assert Refund.objects.filter(charge=paid_charge).count() == 1


def test_idempotency_key_replayed_with_a_value_of_another_type_is_a_409(owner_api, paid_charge):
    assert refund(owner_api, paid_charge, {"amount": 1000, "tag": 1}, "key-3").status_code == 201
    assert_error(refund(owner_api, paid_charge, {"amount": 1000, "tag": "1"}, "key-3"), 409, "idempotency_key_reused")
    assert_error(refund(owner_api, paid_charge, {"amount": 1000, "tag": True}, "key-3"), 409, "idempotency_key_reused")


def test_idempotency_key_replayed_with_an_empty_body_matches_only_an_empty_body(owner_api, paid_charge):
    first = refund(owner_api, paid_charge, None, "key-4", raw="{}")
    assert first.status_code == 201, first.content
    assert refund(owner_api, paid_charge, None, "key-4", raw=" { } ").json()["id"] == first.json()["id"]
    assert_error(refund(owner_api, paid_charge, {"amount": 10000}, "key-4"), 409, "idempotency_key_reused")
