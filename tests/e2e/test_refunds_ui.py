"""The refund path in the browser: list filters, invoice page, cogwheel menu, Details, Send Refund."""

import re

import pytest
from playwright.sync_api import expect

from flexbill.billing.models import Refund

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def open_charge_menu(page, charge, item: str):
    row = page.locator(f"tr[data-charge-id='{charge.pk}']")
    row.locator("summary").click()
    row.get_by_role("menuitem", name=item).click()
    expect(page.locator("#dialog")).to_be_visible()
    return row


def test_owner_filters_by_stripe_card_and_refunds_a_charge_in_full_which_refunds_the_invoice(
    org, make_member, make_paid_charge, make_customer, make_invoice, sign_in, shot
):
    owner = make_member(org, "owner")
    charge = make_paid_charge(org, amount=12000)
    customer, _ = make_customer(org)
    transfer = make_invoice(org, customer, total=5000, payment_method="bank_transfer")
    page = sign_in(owner)
    expect(page.get_by_test_id("organization")).to_have_text(org.name)

    page.select_option("#id_payment_method", "stripe_card")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"payment_method=stripe_card"))
    table = page.get_by_test_id("invoice-table")
    expect(table).to_contain_text(charge.invoice.number)
    expect(table).not_to_contain_text(transfer.number)
    shot("filtered-list")

    page.get_by_role("link", name=charge.invoice.number).click()
    expect(page.get_by_role("heading", name=f"Invoice {charge.invoice.number}")).to_be_visible()
    open_charge_menu(page, charge, "Details")
    details = page.get_by_test_id("charge-details")
    expect(details).to_contain_text(charge.stripe_charge_id)
    expect(details).to_contain_text("Visa ···· 4242")
    shot("details", full_page=False)

    page.locator("#dialog").get_by_role("button", name="Send Refund").click()
    expect(page.locator("#id_amount")).to_have_value("120.00")
    shot("refund-form", full_page=False)
    page.locator("#dialog").get_by_role("button", name="Send Refund").click()

    expect(page.get_by_test_id("refund-sent")).to_contain_text("Succeeded")
    shot("refund-sent", full_page=False)
    page.locator("#dialog").get_by_role("button", name="Done").click()
    row = page.locator(f"tr[data-charge-id='{charge.pk}']")
    expect(row.locator("[data-charge-status]")).to_have_text("Refunded")
    expect(page.get_by_test_id("invoice-status")).to_have_text("Refunded")
    expect(page.locator(".refund-row")).to_contain_text("Refund succeeded")
    shot("invoice-refunded")
    # People read the audit trail as sentences, not action codes.
    trail = page.get_by_test_id("audit-trail")
    expect(trail).to_contain_text(f"Refunded $120.00 of {charge.invoice.number} — requested by customer")
    expect(trail).not_to_contain_text("refund.requested")
    trail.scroll_into_view_if_needed()
    shot("audit-trail")

    charge.refresh_from_db()
    assert charge.status == "refunded"
    assert charge.amount_refunded == 12000


def test_partial_refund_is_shown_as_partial_and_leaves_the_invoice_paid(
    org, make_member, make_paid_charge, sign_in, shot
):
    owner = make_member(org, "admin")
    charge = make_paid_charge(org, amount=10000)
    page = sign_in(owner)
    page.goto(f"/invoices/{charge.invoice_id}/")
    open_charge_menu(page, charge, "Details")
    page.locator("#dialog").get_by_role("button", name="Send Refund").click()

    page.fill("#id_amount", "12.505")
    page.locator("#dialog").get_by_role("button", name="Send Refund").click()
    expect(page.locator(".field-error")).to_contain_text("12.505 has too many decimals for USD (at most 2")
    page.fill("#id_amount", "250.00")
    page.locator("#dialog").get_by_role("button", name="Send Refund").click()
    expect(page.locator(".field-error")).to_contain_text("more than what remains refundable")
    shot("amount-errors", full_page=False)
    assert not Refund.objects.filter(charge=charge).exists()

    page.fill("#id_amount", "25.00")
    page.select_option("#id_reason", "duplicate")
    page.fill("#id_note", "Charged twice for the same day pass")
    page.locator("#dialog").get_by_role("button", name="Send Refund").click()
    expect(page.get_by_test_id("refund-sent")).to_be_visible()
    page.locator("#dialog").get_by_role("button", name="Done").click()

    row = page.locator(f"tr[data-charge-id='{charge.pk}']")
    expect(row.locator("[data-charge-status]")).to_have_text("Partially refunded: $25.00 of $100.00")
    expect(page.get_by_test_id("invoice-status")).to_have_text("Paid")
    expect(page.get_by_test_id("invoice-refunded")).to_have_text("$25.00")
    shot("partial")

    page.set_viewport_size({"width": 390, "height": 800})
    shot("partial-narrow")
    refund = Refund.objects.get(charge=charge)
    assert (refund.amount, refund.reason, refund.status) == (2500, "duplicate", "succeeded")


def test_member_never_sees_send_refund_and_a_forged_refund_post_is_refused_with_403(
    org, make_member, make_paid_charge, sign_in, shot
):
    member = make_member(org, "member")
    charge = make_paid_charge(org, amount=8000)
    page = sign_in(member)
    page.goto(f"/invoices/{charge.invoice_id}/")
    row = page.locator(f"tr[data-charge-id='{charge.pk}']")
    row.locator("summary").click()
    expect(row.get_by_role("menuitem", name="Change status")).to_have_count(0)
    expect(row.get_by_role("menuitem", name="Delete")).to_have_count(0)
    row.get_by_role("menuitem", name="Details").click()
    expect(page.get_by_test_id("charge-details")).to_be_visible()
    expect(page.get_by_role("button", name="Send Refund")).to_have_count(0)
    expect(page.get_by_test_id("refund-refusal")).to_contain_text("You do not have permission")
    shot("member-details", full_page=False)

    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"/charges/{charge.pk}/refund/",
        form={
            "csrfmiddlewaretoken": token,
            "amount": "80.00",
            "reason": "requested_by_customer",
            "note": "",
            "idempotency_key": "web-forged",
        },
        headers={"X-CSRFToken": token, "Referer": page.url},
    )
    assert response.status == 403
    for via in ("status", "delete"):
        response = page.request.post(
            f"/charges/{charge.pk}/mark-refunded/{via}/",
            form={"csrfmiddlewaretoken": token},
            headers={"X-CSRFToken": token, "Referer": page.url},
        )
        assert response.status == 403
    charge.refresh_from_db()
    assert (charge.status, charge.amount_refunded, charge.marked_refunded_at) == ("success", 0, None)
    assert not Refund.objects.filter(charge=charge).exists()


@pytest.mark.parametrize(
    ("item", "button", "message"),
    [
        ("Change status", "Mark as Refunded", "The payment is now marked Refunded. No money moved."),
        ("Delete", "Delete payment", "Payment deleted: it is now marked Refunded. No money moved."),
    ],
    ids=["change-status", "delete"],
)
def test_change_status_and_delete_mark_the_charge_refunded_after_saying_no_money_moves(
    org, make_member, make_paid_charge, sign_in, shot, item, button, message
):
    owner = make_member(org, "owner")
    charge = make_paid_charge(org, amount=4500)
    page = sign_in(owner)
    page.goto(f"/invoices/{charge.invoice_id}/")
    open_charge_menu(page, charge, item)
    expect(page.get_by_test_id("no-money-moves")).to_contain_text("No money will move.")
    shot("confirm", full_page=False)
    page.locator("#dialog").get_by_role("button", name=button).click()
    expect(page.get_by_test_id("charge-marked")).to_have_text(message)
    page.locator("#dialog").get_by_role("button", name="Done").click()
    expect(page.locator(f"tr[data-charge-id='{charge.pk}'] [data-charge-status]")).to_have_text("Refunded")
    expect(page.get_by_test_id("invoice-status")).to_have_text("Refunded")
    expect(page.locator("#audit")).to_contain_text("no money moved")
    shot("marked")

    charge.refresh_from_db()
    assert charge.status == "refunded" and charge.marked_refunded_at is not None
    assert not Refund.objects.filter(charge=charge).exists()


def test_pending_charge_details_explain_there_is_no_stripe_charge_yet(
    org, make_member, make_customer, make_invoice, make_pending_charge, sign_in, shot
):
    owner = make_member(org, "owner")
    customer, _ = make_customer(org)
    invoice = make_invoice(org, customer, total=30000, payment_method="stripe_ach")
    charge = make_pending_charge(invoice)
    page = sign_in(owner)
    page.goto(f"/invoices/{invoice.pk}/")
    expect(page.locator(f"tr[data-charge-id='{charge.pk}'] [data-charge-status]")).to_have_text("Pending")
    open_charge_menu(page, charge, "Details")
    expect(page.get_by_test_id("details-problem")).to_contain_text("no Stripe charge exists for this payment")
    expect(page.get_by_test_id("refund-refusal")).to_have_text(
        "Only successful charges can be refunded; this charge is pending or failed."
    )
    expect(page.get_by_role("button", name="Send Refund")).to_have_count(0)
    shot("pending-details", full_page=False)
