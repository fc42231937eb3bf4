"""Refunds, charge actions, credit notes and audit through the REST API: status codes and error shapes."""

import pytest

from api_calls import assert_error, post
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, CreditNote, Refund
from flexbill.stripe_gateway.client import gateway_for


def stripe_refunds(charge) -> dict[str, int]:
    return {r.id: r.amount for r in gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)}


@pytest.fixture
def owner_api(api_client, owner):
    return api_client(owner)


def refunds_url(charge) -> str:
    return f"/api/v1/charges/{charge.pk}/refunds"


# Issuing -----------------------------------------------------------------------------------------------------
def test_refund_through_the_api_answers_201_with_the_refund(owner, owner_api, paid_charge):
    response = post(owner_api, refunds_url(paid_charge), {"amount": 2500, "reason": "duplicate", "note": "Twice"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == 2500
    assert body["status"] == "succeeded"
    assert body["origin"] == "app"
    assert body["reason"] == "duplicate"
    assert body["note"] == "Twice"
    assert body["currency"] == "usd"
    assert body["created_by"] == owner.user.email
    assert stripe_refunds(paid_charge) == {body["stripe_refund_id"]: 2500}
    charge = owner_api.get(f"/api/v1/charges/{paid_charge.pk}").json()
    assert (charge["status"], charge["amount_refunded"], charge["refundable_amount"]) == ("success", 2500, 7500)


def test_refund_without_amount_refunds_all_that_remains(owner_api, paid_charge):
    response = post(owner_api, refunds_url(paid_charge), {})
    assert response.status_code == 201
    assert response.json()["amount"] == 10000
    assert owner_api.get(f"/api/v1/charges/{paid_charge.pk}").json()["status"] == "refunded"
    assert owner_api.get(f"/api/v1/invoices/{paid_charge.invoice_id}").json()["status"] == "refunded"


def test_same_idempotency_key_and_body_gives_the_same_refund(owner_api, paid_charge):
    first = post(owner_api, refunds_url(paid_charge), {"amount": 1000}, **{"Idempotency-Key": "abc-1"})
    again = post(owner_api, refunds_url(paid_charge), {"amount": 1000}, **{"Idempotency-Key": "abc-1"})

    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Refund.objects.filter(charge=paid_charge).count() == 1
    assert len(stripe_refunds(paid_charge)) == 1


def test_idempotency_key_reused_with_different_parameters_is_a_409(owner_api, paid_charge):
    post(owner_api, refunds_url(paid_charge), {"amount": 1000}, **{"Idempotency-Key": "abc-2"})
    response = post(owner_api, refunds_url(paid_charge), {"amount": 2000}, **{"Idempotency-Key": "abc-2"})

    assert_error(response, 409, "idempotency_key_reused")
    assert sorted(stripe_refunds(paid_charge).values()) == [1000]


def test_refund_with_credit_note_through_the_api_issues_one(owner_api, paid_charge):
    response = post(owner_api, refunds_url(paid_charge), {"amount": 3000, "credit_note": True})
    assert response.status_code == 201
    note = CreditNote.objects.get(refund_id=response.json()["id"])
    assert note.amount == 3000


# Refusals and their shapes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["member", "custom"])
def test_refund_without_permission_is_a_403(org, make_member, api_client, paid_charge, role):
    response = post(api_client(make_member(org, role)), refunds_url(paid_charge), {"amount": 100})
    assert_error(response, 403, "permission_denied")
    assert stripe_refunds(paid_charge) == {}


def test_member_replaying_an_owners_idempotency_key_is_a_403_not_the_refund(
    org, make_member, owner_api, api_client, paid_charge
):
    post(owner_api, refunds_url(paid_charge), {"amount": 1000}, **{"Idempotency-Key": "owner-key"})
    member_api = api_client(make_member(org, "member"))

    response = post(member_api, refunds_url(paid_charge), {"amount": 1000}, **{"Idempotency-Key": "owner-key"})

    assert_error(response, 403, "permission_denied")


def test_refund_by_a_role_holding_the_refund_permission_is_a_201(org, make_member, api_client, paid_charge):
    response = post(api_client(make_member(org, "clerk")), refunds_url(paid_charge), {"amount": 100})
    assert response.status_code == 201


def test_refund_of_an_absent_charge_is_a_404(owner_api):
    assert_error(post(owner_api, "/api/v1/charges/987654/refunds", {"amount": 100}), 404, "not_found")


def test_refund_beyond_what_remains_is_a_409(owner_api, paid_charge):
    body = assert_error(post(owner_api, refunds_url(paid_charge), {"amount": 10001}), 409, "amount_too_large")
    assert "remains refundable" in body["detail"]


def test_refund_of_a_refunded_charge_is_a_409(owner_api, paid_charge):
    post(owner_api, refunds_url(paid_charge), {})
    assert_error(post(owner_api, refunds_url(paid_charge), {"amount": 1}), 409, "already_refunded")


def test_refund_of_a_recorded_charge_is_a_409_saying_why(org, owner_api, make_customer, make_invoice):
    customer, _ = make_customer(org)
    invoice = make_invoice(org, customer, total=5000)
    charge = services.charge_record(invoice=invoice, source="quickbooks", amount=5000, reference="Q", actor=SYSTEM)
    body = assert_error(post(owner_api, refunds_url(charge), {}), 409, "not_stripe")
    assert "credit note" in body["detail"]


def test_refund_when_stripe_is_unreachable_is_a_502_and_changes_nothing(settings, owner_api, paid_charge):
    settings.FLEXBILL_STRIPE_API_BASE = "http://127.0.0.1:9"
    assert_error(post(owner_api, refunds_url(paid_charge), {"amount": 100}), 502, "stripe_error")
    assert not Refund.objects.filter(charge=paid_charge).exists()
    assert Charge.objects.get(pk=paid_charge.pk).amount_reserved == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"amount": -100}, id="negative"),
        pytest.param({"amount": 0}, id="zero"),
        pytest.param({"amount": 1.5}, id="fractional"),
        pytest.param({"amount": 100.0}, id="float"),
        pytest.param({"amount": 10**30}, id="huge"),
        pytest.param({"amount": "100"}, id="string"),
        pytest.param({"amount": True}, id="boolean"),
        pytest.param({"amount": None, "currency": "eur"}, id="wrong-currency"),
        pytest.param({"amount": 100, "currency": "EURO"}, id="bad-currency"),
        pytest.param({"amount": 100, "reason": "because"}, id="unknown-reason"),
        pytest.param({"amount": 100, "credit_note": "yes"}, id="credit-note-string"),
        pytest.param({"amount": 100, "note": "x" * 1001}, id="note-too-long"),
    ],
)
def test_invalid_refund_request_is_a_400_and_moves_no_money(owner_api, paid_charge, body):
    assert_error(post(owner_api, refunds_url(paid_charge), body), 400)
    assert stripe_refunds(paid_charge) == {}
    assert not Refund.objects.filter(charge=paid_charge).exists()


def test_refund_in_the_charge_currency_is_accepted_whatever_its_case(owner_api, paid_charge):
    response = post(owner_api, refunds_url(paid_charge), {"amount": 100, "currency": "USD"})
    assert response.status_code == 201


# Details -----------------------------------------------------------------------------------------------------
def test_details_of_a_paid_charge_come_from_stripe(owner, owner_api, paid_charge):
    refund = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=400)
    response = owner_api.get(f"/api/v1/charges/{paid_charge.pk}/details")
    assert response.status_code == 200
    body = response.json()
    assert body["stripe_charge_id"] == paid_charge.stripe_charge_id
    assert body["amount"] == 10000
    assert body["payment_method_type"] == "card"
    assert [(r["id"], r["amount"]) for r in body["refunds"]] == [(refund.stripe_refund_id, 400)]


def test_details_of_a_pending_charge_without_stripe_charge_say_no_details_yet(owner_api, paid_charge):
    Charge.objects.filter(pk=paid_charge.pk).update(payment_status="pending", status="pending", stripe_charge_id=None)
    body = assert_error(owner_api.get(f"/api/v1/charges/{paid_charge.pk}/details"), 409, "no_stripe_charge")
    assert "no details yet" in body["detail"].lower()


# Mark refunded without moving money --------------------------------------------------------------------------
def test_status_refunded_marks_the_charge_without_moving_money(owner_api, paid_charge):
    response = post(owner_api, f"/api/v1/charges/{paid_charge.pk}/status", {"status": "refunded"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["marked_refunded"], body["amount_refunded"]) == ("refunded", True, 0)
    assert stripe_refunds(paid_charge) == {}
    events = owner_api.get(f"/api/v1/audit-events?object=charge:{paid_charge.pk}").json()["items"]
    assert any(e["action"] == "charge.marked_refunded" and "no money moved" in e["message"] for e in events)


def test_delete_marks_the_charge_refunded_without_moving_money(owner_api, paid_charge):
    response = owner_api.delete(f"/api/v1/charges/{paid_charge.pk}")
    assert response.status_code == 200
    assert response.json()["status"] == "refunded"
    assert Charge.objects.filter(pk=paid_charge.pk).exists()
    assert stripe_refunds(paid_charge) == {}
    assert owner_api.get(f"/api/v1/invoices/{paid_charge.invoice_id}").json()["status"] == "refunded"


def test_status_or_delete_of_a_refunded_charge_is_a_409(owner_api, paid_charge):
    post(owner_api, refunds_url(paid_charge), {})
    assert_error(
        post(owner_api, f"/api/v1/charges/{paid_charge.pk}/status", {"status": "refunded"}), 409, "already_refunded"
    )
    assert_error(owner_api.delete(f"/api/v1/charges/{paid_charge.pk}"), 409, "already_refunded")


@pytest.mark.parametrize("status", ["success", "pending", "", None])
def test_status_other_than_refunded_is_a_400(owner_api, paid_charge, status):
    assert_error(post(owner_api, f"/api/v1/charges/{paid_charge.pk}/status", {"status": status}), 400)
    assert Charge.objects.get(pk=paid_charge.pk).status == "success"


def test_member_cannot_delete_a_charge(org, make_member, api_client, paid_charge):
    assert_error(api_client(make_member(org, "member")).delete(f"/api/v1/charges/{paid_charge.pk}"), 403)
    assert Charge.objects.get(pk=paid_charge.pk).status == "success"


# Credit notes ------------------------------------------------------------------------------------------------
def test_credit_note_through_the_api_records_money_returned_outside_stripe(owner_api, paid_charge):
    response = post(
        owner_api,
        f"/api/v1/invoices/{paid_charge.invoice_id}/credit-notes",
        {
            "amount": 1200,
            "reason": "Refunded by transfer",
            "refund": {"method": "bank_transfer", "reference": "T-1", "date": "2025-05-01"},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["refund_method"], body["refunded_on"]) == (1200, "bank_transfer", "2025-05-01")
    assert owner_api.get(f"/api/v1/invoices/{paid_charge.invoice_id}").json()["amount_refunded"] == 1200
    assert stripe_refunds(paid_charge) == {}


@pytest.mark.parametrize(
    "body", [{"amount": 0, "reason": "x"}, {"amount": 100, "reason": ""}, {"amount": "100", "reason": "x"}]
)
def test_invalid_credit_note_is_a_400(owner_api, paid_charge, body):
    assert_error(post(owner_api, f"/api/v1/invoices/{paid_charge.invoice_id}/credit-notes", body), 400)


def test_credit_notes_beyond_the_invoice_total_are_a_409(owner_api, paid_charge):
    url = f"/api/v1/invoices/{paid_charge.invoice_id}/credit-notes"
    assert post(owner_api, url, {"amount": 9000, "reason": "Most"}).status_code == 201
    assert_error(post(owner_api, url, {"amount": 1001, "reason": "Too much"}), 409, "amount_too_large")


def test_member_cannot_issue_credit_notes(org, make_member, api_client, paid_charge):
    response = post(
        api_client(make_member(org, "member")),
        f"/api/v1/invoices/{paid_charge.invoice_id}/credit-notes",
        {"amount": 100, "reason": "x"},
    )
    assert_error(response, 403, "permission_denied")


# Lists -------------------------------------------------------------------------------------------------------
def test_refund_list_filters_by_charge_status_and_origin(org, owner, owner_api, make_paid_charge):
    first = make_paid_charge(org, amount=5000)
    second = make_paid_charge(org, amount=5000)
    a = services.refund_create(actor=Actor.for_membership(owner), charge=first, amount=100)
    b = services.refund_create(actor=Actor.for_membership(owner), charge=second, amount=200)
    Refund.objects.filter(pk=b.pk).update(status="pending")

    def listed(query):
        response = owner_api.get(f"/api/v1/refunds?{query}")
        assert response.status_code == 200
        return [r["id"] for r in response.json()["items"]]

    assert listed(f"charge={first.pk}") == [a.pk]
    assert listed("status=pending") == [b.pk]
    assert listed("status=succeeded") == [a.pk]
    assert listed("origin=app") == [b.pk, a.pk]
    assert listed("origin=stripe") == []
    assert_error(owner_api.get("/api/v1/refunds?status=lost"), 400)


def test_audit_events_for_a_charge_show_the_refund_status_change(owner, owner_api, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge)
    response = owner_api.get(f"/api/v1/audit-events?object=charge:{paid_charge.pk}")
    assert response.status_code == 200
    events = response.json()["items"]
    assert all(e["object"] == f"charge:{paid_charge.pk}" for e in events)
    updated = [e for e in events if e["action"] == "charge.updated"]
    assert updated[0]["before"]["status"] == "success"
    assert updated[0]["after"]["status"] == "refunded"


@pytest.mark.parametrize("ref", ["charge", "charge:", ":5"])
def test_audit_events_with_a_malformed_object_are_a_400(owner_api, ref):
    assert_error(owner_api.get(f"/api/v1/audit-events?object={ref}"), 400)
