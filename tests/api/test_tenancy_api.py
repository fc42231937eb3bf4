"""Organizations never see or change each other's data, and bad requests are 4xx, never 500."""

import pytest

from api_calls import assert_error, post
from flexbill.accounts.services import api_token_create
from flexbill.audit.services import Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, CreditNote, Refund
from flexbill.stripe_gateway.client import gateway_for


@pytest.fixture
def theirs(make_org, make_member, make_paid_charge):
    """Another organization's charge, with one partial refund."""
    other = make_org()
    charge = make_paid_charge(other, amount=6000)
    refund = services.refund_create(actor=Actor.for_membership(make_member(other, "owner")), charge=charge, amount=1000)
    return {"charge": Charge.objects.get(pk=charge.pk), "refund": refund, "invoice": charge.invoice}


@pytest.fixture
def owner_api(api_client, owner):
    return api_client(owner)


def unchanged(theirs):
    charge = Charge.objects.get(pk=theirs["charge"].pk)
    assert (charge.status, charge.amount_refunded, charge.marked_refunded_at) == ("success", 1000, None)
    assert Refund.objects.filter(charge=charge).count() == 1
    assert not CreditNote.objects.filter(invoice_id=theirs["invoice"].pk).exists()
    stripe = gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)
    assert [r.amount for r in stripe] == [1000]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/invoices/{invoice}",
        "/api/v1/charges/{charge}",
        "/api/v1/charges/{charge}/details",
    ],
)
def test_another_organizations_objects_are_not_found(owner_api, theirs, path):
    url = path.format(invoice=theirs["invoice"].pk, charge=theirs["charge"].pk)
    assert_error(owner_api.get(url), 404, "not_found")


def test_another_organizations_charge_cannot_be_refunded(owner_api, theirs):
    assert_error(post(owner_api, f"/api/v1/charges/{theirs['charge'].pk}/refunds", {"amount": 100}), 404)
    unchanged(theirs)


def test_another_organizations_charge_cannot_be_marked_refunded_or_deleted(owner_api, theirs):
    assert_error(post(owner_api, f"/api/v1/charges/{theirs['charge'].pk}/status", {"status": "refunded"}), 404)
    assert_error(owner_api.delete(f"/api/v1/charges/{theirs['charge'].pk}"), 404)
    unchanged(theirs)


def test_another_organizations_invoice_cannot_be_credited_or_charged(owner_api, theirs):
    url = f"/api/v1/invoices/{theirs['invoice'].pk}"
    assert_error(post(owner_api, f"{url}/credit-notes", {"amount": 100, "reason": "x"}), 404)
    assert_error(post(owner_api, f"{url}/charges", {"source": "manual", "amount": 100}), 404)
    unchanged(theirs)


def test_another_organizations_refunds_and_audit_are_not_listed(owner_api, theirs):
    refunds = owner_api.get(f"/api/v1/refunds?charge={theirs['charge'].pk}").json()
    assert refunds["items"] == []
    assert owner_api.get("/api/v1/refunds").json()["items"] == []
    events = owner_api.get(f"/api/v1/audit-events?object=refund:{theirs['refund'].pk}").json()
    assert events["items"] == []
    assert owner_api.get(f"/api/v1/invoices?customer={theirs['invoice'].customer_id}").json()["items"] == []


@pytest.mark.parametrize("query", ["", "status=paid&payment_method=stripe_card", "search=a", "search=INV"])
def test_another_organizations_invoices_are_not_listed_whatever_the_filters(owner_api, theirs, query):
    assert owner_api.get(f"/api/v1/invoices?{query}").json()["items"] == []


def test_request_without_token_is_a_401(api_client, theirs):
    anonymous = api_client()
    assert_error(anonymous.get("/api/v1/invoices"), 401, "unauthenticated")
    assert_error(post(anonymous, f"/api/v1/charges/{theirs['charge'].pk}/refunds", {"amount": 100}), 401)
    unchanged(theirs)


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000, "nonsense"])
def test_request_with_a_bad_token_is_a_401(header, theirs):
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=header)
    assert_error(client.get("/api/v1/invoices"), 401)
    assert_error(post(client, f"/api/v1/charges/{theirs['charge'].pk}/refunds", {"amount": 100}), 401)
    unchanged(theirs)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_is_read_in_any_case(owner, scheme):
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"{scheme} {api_token_create(membership=owner)}")
    assert client.get("/api/v1/invoices").status_code == 200


@pytest.mark.parametrize(
    "raw",
    ["{", "not json", '{"amount": }', "[1, 2]", '"just a string"', "null", '{"amount": NaN}', "\xff\xfe"],
)
def test_malformed_json_body_is_a_400_never_500(owner_api, paid_charge, raw):
    response = owner_api.post(
        f"/api/v1/charges/{paid_charge.pk}/refunds", data=raw.encode("latin-1"), content_type="application/json"
    )
    assert_error(response, 400)
    assert not Refund.objects.filter(charge=paid_charge).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/invoices/99999999999999999999",
        "/api/v1/charges/99999999999999999999",
        "/api/v1/charges/99999999999999999999/details",
        "/api/v1/charges/9223372036854775808",
        "/api/v1/charges/0",
        "/api/v1/charges/-1",
        "/api/v1/invoices?customer=99999999999999999999",
        "/api/v1/refunds?charge=99999999999999999999",
    ],
)
def test_huge_or_impossible_ids_are_a_400_or_404_never_500(owner_api, url):
    assert_error(owner_api.get(url), (400, 404))


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/charges/99999999999999999999/refunds"),
        ("post", "/api/v1/charges/99999999999999999999/status"),
        ("delete", "/api/v1/charges/99999999999999999999"),
        ("post", "/api/v1/invoices/99999999999999999999/credit-notes"),
        ("post", "/api/v1/invoices/99999999999999999999/charges"),
    ],
)
def test_huge_ids_in_writes_are_a_400_or_404_never_500(owner_api, method, url):
    if method == "delete":
        response = owner_api.delete(url)
    else:
        response = post(owner_api, url, {"amount": 100, "status": "refunded", "reason": "x", "source": "manual"})
    assert_error(response, (400, 404))


def test_huge_id_in_the_body_is_a_400_or_404_never_500(owner_api):
    body = {
        "customer": 99999999999999999999,
        "currency": "usd",
        "payment_method": "stripe_card",
        "lines": [{"description": "Desk", "amount": 100}],
    }
    assert_error(post(owner_api, "/api/v1/invoices", body), (400, 404))


def test_text_with_a_nul_character_is_a_400_never_a_500(owner, api_client, paid_charge):
    client = api_client(owner)
    refund = client.post(
        f"/api/v1/charges/{paid_charge.pk}/refunds", data='{"note": "a\\u0000b"}', content_type="application/json"
    )
    customer = client.post(
        "/api/v1/customers", data='{"name": "a\\u0000", "email": "x@example.com"}', content_type="application/json"
    )
    search = client.get("/api/v1/invoices?search=a%00b")

    assert (refund.status_code, customer.status_code, search.status_code) == (400, 400, 400)
    assert paid_charge.refunds.count() == 0
