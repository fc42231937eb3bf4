"""The Send Refund dialog makes one refund however often the same form is sent (docs/rules.md, rule 13): each
rendering carries a one-time key passed to the refund as its Idempotency-Key. What Stripe holds is checked in the
local Stripe."""

import re

import pytest

from flexbill.accounts.models import Organization
from flexbill.audit.services import Actor
from flexbill.billing.models import Refund
from flexbill.billing.services.approvals import refund_reject
from flexbill.stripe_gateway.client import gateway_for
from web_calls import signed_in

pytestmark = pytest.mark.django_db


def dialog_key(html: str) -> str:
    """The one-time key of a rendered dialog, as the browser sends it."""
    return re.search(r'<input type="hidden" name="idempotency_key" value="([^"]*)"', html).group(1)


def opened_dialog(client, charge, **typed) -> dict:
    """The dialog as opened from the invoice page, filled in as the person types it."""
    key = dialog_key(client.get(f"/charges/{charge.pk}/refund/").content.decode())
    return {"amount": "50.00", "reason": "requested_by_customer", "note": "", "idempotency_key": key, **typed}


def stripe_refunds(charge) -> list[int]:
    return [r.amount for r in gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)]


def refunds(charge) -> list[tuple[int, str]]:
    return list(Refund.objects.filter(charge=charge).order_by("pk").values_list("amount", "status"))


def test_each_rendering_of_the_refund_dialog_carries_its_own_one_time_key(owner_web, paid_charge):
    first = opened_dialog(owner_web, paid_charge)["idempotency_key"]
    second = opened_dialog(owner_web, paid_charge)["idempotency_key"]

    assert re.fullmatch(r"web-[0-9a-f]{32}", first)
    assert re.fullmatch(r"web-[0-9a-f]{32}", second)
    assert first != second


def test_the_refund_dialog_sent_twice_makes_one_refund_and_answers_both_times_with_it(owner_web, paid_charge):
    form = opened_dialog(owner_web, paid_charge)

    first = owner_web.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true").content.decode()
    again = owner_web.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true").content.decode()

    for answer in (first, again):
        assert 'data-testid="refund-sent"' in answer
        assert "A refund of <strong" in answer and "$50.00</strong> was sent to Stripe." in answer
    assert refunds(paid_charge) == [(5000, "succeeded")]
    assert stripe_refunds(paid_charge) == [5000]


def test_the_refund_form_posted_again_without_javascript_returns_to_the_invoice_and_refunds_once(
    owner_web, paid_charge
):
    form = opened_dialog(owner_web, paid_charge)

    first = owner_web.post(f"/charges/{paid_charge.pk}/refund/", form)
    resent = owner_web.post(f"/charges/{paid_charge.pk}/refund/", form)  # the browser's "send again?" on reload

    assert first.status_code == resent.status_code == 302
    assert first["Location"] == resent["Location"] == f"/invoices/{paid_charge.invoice_id}/"
    assert refunds(paid_charge) == [(5000, "succeeded")]
    assert stripe_refunds(paid_charge) == [5000]


def test_the_same_dialog_sent_again_with_another_amount_is_refused_in_words_with_a_new_key(owner_web, paid_charge):
    form = opened_dialog(owner_web, paid_charge)
    owner_web.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true")

    response = owner_web.post(f"/charges/{paid_charge.pk}/refund/", {**form, "amount": "30.00"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert (
        "This form already sent a refund with a different amount, reason, note or credit note, so nothing more was "
        "refunded; that refund is on the invoice." in html
    )
    assert 'value="30.00"' in html  # the changed refund, ready to be sent deliberately
    assert refunds(paid_charge) == [(5000, "succeeded")]
    assert stripe_refunds(paid_charge) == [5000]
    offered = dialog_key(html)
    assert offered != form["idempotency_key"]

    deliberate = {**form, "amount": "30.00", "idempotency_key": offered}
    owner_web.post(f"/charges/{paid_charge.pk}/refund/", deliberate, HTTP_HX_REQUEST="true")
    assert refunds(paid_charge) == [(5000, "succeeded"), (3000, "succeeded")]
    assert sorted(stripe_refunds(paid_charge)) == [3000, 5000]


def test_the_same_dialog_sent_again_with_another_reason_is_refused_and_refunds_nothing_more(owner_web, paid_charge):
    form = opened_dialog(owner_web, paid_charge)
    owner_web.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true")

    html = owner_web.post(
        f"/charges/{paid_charge.pk}/refund/", {**form, "reason": "duplicate"}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "nothing more was refunded" in html
    assert refunds(paid_charge) == [(5000, "succeeded")]
    assert stripe_refunds(paid_charge) == [5000]


@pytest.mark.parametrize("key", [None, "", "   ", "k" * 256], ids=["missing", "empty", "blank", "too-long"])
def test_a_refund_dialog_without_a_usable_one_time_key_refunds_nothing_and_says_so(owner_web, paid_charge, key):
    form = {"amount": "50.00", "reason": "requested_by_customer"}
    if key is not None:
        form["idempotency_key"] = key

    response = owner_web.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "This form had expired, so nothing was refunded. Check the refund and press Send Refund again." in html
    assert refunds(paid_charge) == []
    assert stripe_refunds(paid_charge) == []
    assert re.fullmatch(r"web-[0-9a-f]{32}", dialog_key(html))  # a fresh key: sending it now is deliberate


@pytest.mark.parametrize("key", [None, "k" * 256, "web-" + "0" * 32], ids=["missing", "too-long", "usable"])
def test_a_member_who_may_not_refund_is_refused_the_dialog_whatever_key_it_carries(make_member, paid_charge, key):
    member = signed_in(make_member(paid_charge.organization, "member"))
    form = {"amount": "50.00", "reason": "requested_by_customer"}
    if key is not None:
        form["idempotency_key"] = key

    response = member.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert "expired" not in response.content.decode()
    assert refunds(paid_charge) == []
    assert stripe_refunds(paid_charge) == []


# With refund approvals on (docs/rules.md, rule 21) --------------------------------------------------------------------
@pytest.fixture
def approvals_on(org, owner, make_member):
    make_member(org, "admin")  # a second approver besides the owner
    Organization.objects.filter(pk=org.pk).update(refund_approval_threshold=5000)
    return make_member(org, "clerk")


def test_a_refund_at_the_threshold_sent_twice_waits_for_approval_once(approvals_on, paid_charge):
    client = signed_in(approvals_on)
    form = opened_dialog(client, paid_charge, amount="50.00")

    first = client.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true").content.decode()
    again = client.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true").content.decode()

    for answer in (first, again):
        assert "$50.00</strong> is waiting for approval." in answer
    assert refunds(paid_charge) == [(5000, "awaiting_approval")]
    assert stripe_refunds(paid_charge) == []


def test_the_dialog_sent_again_after_its_refund_was_rejected_says_so_and_refunds_nothing(
    approvals_on, owner, paid_charge
):
    client = signed_in(approvals_on)
    form = opened_dialog(client, paid_charge, amount="60.00")
    client.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true")
    refund_reject(actor=Actor.for_membership(owner), refund=Refund.objects.get(), reason="Desk was used")

    again = client.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true").content.decode()

    assert "$60.00</strong>,\n    and it was canceled (Desk was used). Nothing was refunded" in again
    assert "was sent to Stripe" not in again
    assert refunds(paid_charge) == [(6000, "canceled")]
    assert stripe_refunds(paid_charge) == []
