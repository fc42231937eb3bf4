"""Invoices and charges through the REST API: creation, filters, cursor pagination, detail."""

import json

import pytest
from django.http import JsonResponse

from api_calls import post
from flexbill.api.serializers import invoice_summary
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import selectors, services
from flexbill.billing.models import Invoice


@pytest.fixture
def owner_api(api_client, owner):
    return api_client(owner)


def test_payment_method_stripe_does_not_know_is_a_400_not_a_stripe_outage(owner_api, org, make_customer):
    customer, _ = make_customer(org)
    response = post(
        owner_api, f"/api/v1/customers/{customer.pk}/payment-methods", {"stripe_payment_method": "pm_does_not_exist"}
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "payment_method_invalid"
    assert customer.payment_methods.count() == 1


def test_payment_method_of_another_customer_cannot_be_taken_over(owner_api, org, make_customer):
    first, method = make_customer(org)
    second, _ = make_customer(org)
    response = post(
        owner_api,
        f"/api/v1/customers/{second.pk}/payment-methods",
        {"stripe_payment_method": method.stripe_payment_method_id},
    )
    assert response.status_code == 400, response.content
    method.refresh_from_db()
    assert method.customer_id == first.pk


def test_customer_payment_method_invoice_and_charge_are_created_through_the_api(owner_api):
    customer = post(owner_api, "/api/v1/customers", {"name": "Grace Hopper", "email": "grace@example.com"})
    assert customer.status_code == 201, customer.content
    customer_id = customer.json()["id"]
    assert customer.json()["stripe_customer_id"].startswith("cus_")

    method = post(
        owner_api, f"/api/v1/customers/{customer_id}/payment-methods", {"stripe_payment_method": "pm_card_visa"}
    )
    assert method.status_code == 201, method.content
    assert method.json()["type"] == "card"

    invoice = post(
        owner_api,
        "/api/v1/invoices",
        {
            "customer": customer_id,
            "currency": "usd",
            "payment_method": "stripe_card",
            "lines": [{"description": "Hot desk", "amount": 3000}, {"description": "Meeting room", "amount": 2000}],
        },
    )
    assert invoice.status_code == 201, invoice.content
    assert invoice.json()["total"] == 5000
    assert invoice.json()["status"] == "awaiting_payment"

    charge = post(
        owner_api,
        f"/api/v1/invoices/{invoice.json()['id']}/charges",
        {"source": "stripe", "payment_method": method.json()["id"]},
    )
    assert charge.status_code == 201, charge.content
    body = charge.json()
    assert body["status"] == "success"
    assert body["amount"] == 5000  # defaults to what the invoice still owes
    assert body["stripe_charge_id"].startswith("ch_")
    assert body["refundable_amount"] == 5000

    detail = owner_api.get(f"/api/v1/invoices/{invoice.json()['id']}").json()
    assert detail["status"] == "paid"
    assert detail["amount_paid"] == 5000


def test_declined_card_through_the_api_gives_a_201_failed_charge(org, owner_api, make_customer, make_invoice):
    customer, method = make_customer(org, "pm_card_chargeCustomerFail")
    invoice = make_invoice(org, customer, total=2000)
    response = post(
        owner_api, f"/api/v1/invoices/{invoice.pk}/charges", {"source": "stripe", "payment_method": method.pk}
    )
    assert response.status_code == 201
    assert response.json()["status"] == "failed"


def test_recorded_charge_from_xero_moves_no_money(org, owner_api, make_customer, make_invoice):
    customer, _ = make_customer(org)
    invoice = make_invoice(org, customer, total=2000)
    response = post(
        owner_api, f"/api/v1/invoices/{invoice.pk}/charges", {"source": "xero", "amount": 2000, "reference": "X-1"}
    )
    assert response.status_code == 201
    assert response.json()["source"] == "xero"
    assert response.json()["stripe_charge_id"] is None


@pytest.fixture
def invoices(org, make_customer, make_invoice, make_paid_charge):
    """Two customers; card, SEPA and bank-transfer invoices; one paid (via Stripe) and the others awaiting."""
    ada, _ = make_customer(org)
    bob, _ = make_customer(org)
    card = make_invoice(org, ada, total=1000)
    sepa = make_invoice(org, ada, total=2000, payment_method="stripe_sepa")
    transfer = make_invoice(org, bob, total=3000, payment_method="bank_transfer")
    paid = make_paid_charge(org, amount=4000).invoice
    return {"ada": ada, "bob": bob, "card": card, "sepa": sepa, "transfer": transfer, "paid": paid}


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def test_invoice_list_filters_by_status(owner_api, invoices):
    assert ids(owner_api.get("/api/v1/invoices?status=paid")) == {invoices["paid"].pk}
    awaiting = ids(owner_api.get("/api/v1/invoices?status=awaiting_payment"))
    assert awaiting == {invoices["card"].pk, invoices["sepa"].pk, invoices["transfer"].pk}


def test_invoice_list_filters_by_payment_method(owner_api, invoices):
    assert ids(owner_api.get("/api/v1/invoices?payment_method=stripe_sepa")) == {invoices["sepa"].pk}
    assert ids(owner_api.get("/api/v1/invoices?payment_method=bank_transfer")) == {invoices["transfer"].pk}


def test_invoice_list_filters_by_customer(owner_api, invoices):
    assert ids(owner_api.get(f"/api/v1/invoices?customer={invoices['bob'].pk}")) == {invoices["transfer"].pk}


def test_invoice_list_filters_combine(owner_api, invoices):
    url = f"/api/v1/invoices?customer={invoices['ada'].pk}&payment_method=stripe_card&status=awaiting_payment"
    assert ids(owner_api.get(url)) == {invoices["card"].pk}


def test_invoice_list_answers_each_invoices_summary_newest_first(org, owner_api, invoices):
    newest_first = Invoice.objects.filter(organization=org).select_related("customer").order_by("-id")
    assert len(newest_first) == 4 and newest_first[1].status != newest_first[0].status
    expected = JsonResponse({"items": [invoice_summary(invoice) for invoice in newest_first], "next_cursor": None})

    response = owner_api.get("/api/v1/invoices")

    assert response["Content-Type"] == "application/json"
    # What the models serialise to, field for field, type for type and in the same order (spacing aside).
    assert response.json() == json.loads(expected.content)
    assert [list(item) for item in response.json()["items"]] == [
        list(item) for item in json.loads(expected.content)["items"]
    ]


@pytest.mark.parametrize("search", ["ada", "ADA", "lovelace", "inv-", "50%", "%", "_", "x_y", "\\", "o", "none"])
def test_invoice_list_search_finds_what_the_web_list_finds(org, owner_api, make_invoice, search):
    """Customer name or invoice number, any case; % _ and \\ are taken literally (the web UI's invoice_filter)."""
    for name in ("Ada Lovelace", "50% Off Ltd", "x_y Coworking", "Back\\slash Ltd", "xay"):
        customer = services.customer_create(organization=org, name=name, email="a@example.com", actor=SYSTEM)
        make_invoice(org, customer)
    web = set(selectors.invoice_filter(organization=org, search=search).values_list("id", flat=True))

    assert ids(owner_api.get("/api/v1/invoices", {"search": search})) == web
    if search in ("%", "_", "\\"):
        assert len(web) == 1  # the one customer whose name holds the character


@pytest.mark.parametrize("query", ["status=unknown", "payment_method=bitcoin", "customer=abc", "customer=0"])
def test_invoice_list_refuses_unknown_filter_values_with_400(owner_api, query):
    response = owner_api.get(f"/api/v1/invoices?{query}")
    assert response.status_code == 400
    assert set(response.json()) == {"detail", "code"}


def test_cursor_pagination_walks_every_invoice_once_newest_first(org, owner_api, make_customer, make_invoice):
    customer, _ = make_customer(org)
    created = [make_invoice(org, customer, total=100 + i).pk for i in range(7)]

    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/invoices?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = owner_api.get(url).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == sorted(created, reverse=True)  # no duplicates, no gaps, newest first


def test_cursor_pagination_is_stable_when_invoices_are_added_meanwhile(org, owner_api, make_customer, make_invoice):
    customer, _ = make_customer(org)
    created = [make_invoice(org, customer).pk for _ in range(4)]
    first = owner_api.get("/api/v1/invoices?limit=2").json()
    make_invoice(org, customer)  # newer than everything: belongs before page 1, not inside page 2
    second = owner_api.get(f"/api/v1/invoices?limit=2&cursor={first['next_cursor']}").json()
    walked = [i["id"] for i in first["items"] + second["items"]]
    assert walked == sorted(created, reverse=True)


@pytest.mark.parametrize("cursor", ["garbage", "aWQ6YWJj", "bm9wZTo1", "aWQ6LTE", "%00%ff"])
def test_invalid_cursor_is_a_400(owner_api, cursor):
    response = owner_api.get(f"/api/v1/invoices?cursor={cursor}")
    assert response.status_code == 400
    assert response.json()["code"] == "cursor_invalid"


def test_invoice_detail_includes_charges_refunds_and_credit_notes(org, owner, owner_api, paid_charge):
    refund = services.refund_create(
        actor=Actor.for_membership(owner), charge=paid_charge, amount=1500, credit_note=True
    )
    services.credit_note_create(
        actor=Actor.for_membership(owner),
        invoice=paid_charge.invoice,
        amount=500,
        reason="Goodwill",
        refund_method="cash",
    )

    body = owner_api.get(f"/api/v1/invoices/{paid_charge.invoice_id}").json()

    assert body["status"] == "paid"
    assert body["amount_refunded"] == 2000  # 1500 through Stripe + 500 returned in cash
    [charge] = body["charges"]
    assert charge["id"] == paid_charge.pk
    assert charge["amount_refunded"] == 1500
    assert charge["refundable_amount"] == 8500
    assert charge["display_status"] == "partially_refunded"
    assert [r["id"] for r in charge["refunds"]] == [refund.pk]
    assert charge["refunds"][0]["stripe_refund_id"] == refund.stripe_refund_id
    assert sorted(cn["amount"] for cn in body["credit_notes"]) == [500, 1500]
    assert {cn["refund"] for cn in body["credit_notes"]} == {refund.pk, None}


def test_member_may_view_but_not_create_invoices(org, make_member, api_client, invoices):
    member = api_client(make_member(org, "member"))
    assert member.get(f"/api/v1/invoices/{invoices['card'].pk}").status_code == 200
    response = post(
        member,
        "/api/v1/invoices",
        {
            "customer": invoices["ada"].pk,
            "currency": "usd",
            "payment_method": "stripe_card",
            "lines": [{"description": "Desk", "amount": 100}],
        },
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_invoice_summary_shows_partial_refunds(owner, owner_api, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=700)
    [item] = owner_api.get("/api/v1/invoices?status=paid").json()["items"]
    assert item["amount_refunded"] == 700


def test_invoice_created_with_services_has_a_number(org, make_customer):
    customer, _ = make_customer(org)
    invoice = services.invoice_create(
        organization=org,
        customer=customer,
        currency="usd",
        payment_method="cash",
        lines=[{"description": "Locker", "amount": 900}],
        actor=SYSTEM,
    )
    assert invoice.number
