"""The invoice page offers "Change status" and "Delete" only where marking refunded is allowed, and shows the
refusal sentence when money returned would exceed what was paid."""

import pytest

from flexbill.accounts.preferences import organization_preferences_update
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import CreditNote

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def mark_links(page: str, charge) -> list[str]:
    return [via for via in ("status", "delete") if f"/charges/{charge.pk}/mark-refunded/{via}/" in page]


def test_a_declined_charge_is_not_offered_to_be_marked_refunded(org, owner_client, make_customer, make_invoice):
    customer, method = make_customer(org, "pm_card_chargeCustomerFail")
    invoice = make_invoice(org, customer, total=15000)
    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)

    page = owner_client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert mark_links(page, charge) == []
    dialog = owner_client.get(f"/charges/{charge.pk}/mark-refunded/status/").content.decode()
    assert "Only a paid charge can be marked refunded" in dialog
    owner_client.post(f"/charges/{charge.pk}/mark-refunded/delete/")
    charge.refresh_from_db()
    assert charge.status == "failed"


def test_a_paid_charge_is_offered_to_be_marked_refunded(owner_client, paid_charge):
    page = owner_client.get(f"/invoices/{paid_charge.invoice_id}/").content.decode()
    assert mark_links(page, paid_charge) == ["status", "delete"]


def test_the_mark_dialog_says_which_waiting_refunds_the_mark_withdraws(
    org, owner, owner_client, make_member, paid_charge
):
    make_member(org, "admin")  # a second approver, so that approvals can be on
    organization_preferences_update(actor=Actor.for_membership(owner), refund_approval_threshold=5000)
    clerk = make_member(org, "clerk")
    services.refund_create(actor=Actor.for_membership(clerk), charge=paid_charge, amount=8000)

    dialog = owner_client.get(f"/charges/{paid_charge.pk}/mark-refunded/status/").content.decode()

    assert 'data-testid="mark-withdraws"' in dialog
    assert "$80.00" in dialog and "waiting for approval on this payment will be withdrawn" in dialog


def test_the_mark_dialog_of_a_charge_with_nothing_waiting_mentions_no_withdrawal(owner_client, paid_charge):
    dialog = owner_client.get(f"/charges/{paid_charge.pk}/mark-refunded/status/").content.decode()

    assert 'data-testid="no-money-moves"' in dialog and 'data-testid="mark-withdraws"' not in dialog


def test_money_returned_beyond_what_was_paid_is_refused_in_the_credit_note_form(owner, owner_client, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge)
    response = owner_client.post(
        f"/invoices/{paid_charge.invoice_id}/credit-notes/",
        {
            "credit_note-amount": "10.00",
            "credit_note-reason": "Returned",
            "credit_note-refund_method": "cash",
        },
    )
    assert "Nothing is left to refund on this invoice" in response.content.decode()
    assert not CreditNote.objects.filter(invoice_id=paid_charge.invoice_id).exists()
