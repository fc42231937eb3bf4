"""Bad input to the admin UI gets a readable answer (400/403/404 or a form message), never a 500."""

import pytest

from flexbill.billing.models import Refund

pytestmark = pytest.mark.django_db
KEY = {"idempotency_key": "web-0123456789abcdef"}  # the refund dialog's one-time key, as the page sends it


@pytest.fixture
def owner_client(client, org, make_member):
    membership = make_member(org, "owner")
    client.force_login(membership.user)
    return client


def test_unknown_invoice_and_charge_ids_answer_404(owner_client):
    assert owner_client.get("/invoices/999999/").status_code == 404
    assert owner_client.get("/charges/999999/details/").status_code == 404
    assert owner_client.post("/charges/999999/refund/", {"amount": "1.00"}).status_code == 404
    assert owner_client.get("/charges/999999/mark-refunded/status/").status_code == 404


def test_another_organizations_charge_is_not_found(owner_client, make_org, make_paid_charge):
    other = make_paid_charge(make_org(), amount=1000)
    assert owner_client.get(f"/charges/{other.pk}/details/").status_code == 404
    assert owner_client.post(f"/charges/{other.pk}/refund/", {"amount": "10.00"}).status_code == 404


@pytest.mark.parametrize("amount", ["abc", "", "-5", "1e3", "NaN", "0", "12.345", "9" * 40])
def test_refund_amounts_that_are_not_money_are_refused_next_to_the_field(owner_client, paid_charge, amount):
    response = owner_client.post(
        f"/charges/{paid_charge.pk}/refund/", {"amount": amount, "reason": "other", **KEY}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert b'class="field-error"' in response.content
    assert not Refund.objects.filter(charge=paid_charge).exists()


def test_unknown_refund_reason_and_mark_action_are_refused(owner_client, paid_charge):
    response = owner_client.post(f"/charges/{paid_charge.pk}/refund/", {"amount": "1.00", "reason": "because", **KEY})
    assert response.status_code == 200 and b'class="field-error"' in response.content
    assert owner_client.post(f"/charges/{paid_charge.pk}/mark-refunded/explode/").status_code == 404


def test_list_ignores_unknown_filters_and_explains_a_bad_cursor(owner_client, paid_charge):
    response = owner_client.get("/", {"status": "nonsense", "payment_method": "<script>", "cursor": "!!"})
    assert response.status_code == 200
    assert b"no longer valid" in response.content


def test_credit_note_with_bad_amount_or_too_much_is_shown_in_the_form(owner_client, paid_charge):
    url = f"/invoices/{paid_charge.invoice_id}/credit-notes/"
    response = owner_client.post(url, {"credit_note-amount": "x", "credit_note-reason": "Goodwill"})
    assert response.status_code == 200 and b"x is not an amount: type it like 1,234.50" in response.content
    response = owner_client.post(url, {"credit_note-amount": "5000.00", "credit_note-reason": "Goodwill"})
    assert response.status_code == 200 and b"would exceed its total" in response.content
    response = owner_client.post(url, {"credit_note-amount": "10.00", "credit_note-reason": "Goodwill"})
    assert response.status_code == 302
    assert paid_charge.invoice.credit_notes.get().amount == 1000


def test_pages_need_a_sign_in(client, paid_charge):
    response = client.get(f"/invoices/{paid_charge.invoice_id}/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    response = client.post(f"/charges/{paid_charge.pk}/refund/", {"amount": "1.00"})
    assert response.status_code == 302
    assert not Refund.objects.exists()
