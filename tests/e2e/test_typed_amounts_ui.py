"""Typing an amount in the refund dialog: read the organization's way, shown as understood before it is sent, and
exactly that amount refunded in Stripe (the local Stripe)."""

import re

import pytest
from playwright.sync_api import expect

from flexbill.billing import stripe_reads
from flexbill.billing.models import Refund

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def stripe_refund_amounts(charge) -> list[int]:
    return [refund.amount for refund in stripe_reads.charge_stripe_details(charge=charge).refunds]


def open_refund_dialog(page, charge):
    page.goto(f"/invoices/{charge.invoice_id}/")
    row = page.locator(f"tr[data-charge-id='{charge.pk}']")
    row.locator("summary").click()
    row.get_by_role("menuitem", name="Details").click()
    page.locator("#dialog").get_by_role("button", name="Send Refund").click()
    page.locator("#id_amount").wait_for()
    # htmx binds the preview's listener while it settles the swapped-in form: typing before that would go unheard.
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    return page.locator("#dialog")


def test_12_50_typed_in_a_german_organization_is_previewed_and_refunded_as_exactly_1250_in_stripe(
    make_org, make_member, make_paid_charge, sign_in, shot
):
    org = make_org(currency="eur", locale="de_DE")
    charge = make_paid_charge(org, amount=15000)
    page = sign_in(make_member(org, "owner"))
    dialog = open_refund_dialog(page, charge)
    expect(page.locator("#id_amount")).to_have_value("150,00")
    expect(page.get_by_test_id("refund-preview-amount")).to_have_text(re.compile(r"^150,00\s€$"))

    page.locator("#id_amount").fill("12,50")

    expect(page.get_by_test_id("refund-preview-amount")).to_have_text(re.compile(r"^12,50\s€$"))
    expect(page.get_by_test_id("refund-preview")).to_have_text(re.compile(r"Will refund 12,50\s€ of the 150,00\s€"))
    shot("preview", full_page=False)
    dialog.get_by_role("button", name="Send Refund").click()
    expect(page.get_by_test_id("refund-sent-amount")).to_have_text(re.compile(r"^12,50\s€$"))
    shot("sent", full_page=False)

    assert list(Refund.objects.filter(charge=charge).values_list("amount", flat=True)) == [1250]
    assert stripe_refund_amounts(charge) == [1250]


def test_12_50_typed_in_an_en_us_organization_is_refused_with_what_to_type_and_nothing_is_refunded(
    make_org, make_member, make_paid_charge, sign_in, shot
):
    org = make_org(currency="eur", locale="en_US")
    charge = make_paid_charge(org, amount=15000)
    page = sign_in(make_member(org, "owner"))
    dialog = open_refund_dialog(page, charge)
    expect(page.locator("#id_amount")).to_have_value("150.00")

    page.locator("#id_amount").fill("12,50")

    refusal = "12,50 is not an amount here: type 12.50 for €12.50."
    expect(page.get_by_test_id("refund-preview")).to_have_text(refusal)
    expect(page.get_by_test_id("refund-preview-amount")).to_have_count(0)
    dialog.get_by_role("button", name="Send Refund").click()
    expect(dialog.locator(".field-error")).to_have_text(refusal)
    shot("refused", full_page=False)

    page.locator("#id_amount").fill("١٢")
    expect(page.get_by_test_id("refund-preview")).to_contain_text("digits 0-9")
    dialog.get_by_role("button", name="Send Refund").click()
    expect(dialog.locator(".field-error")).to_contain_text("digits 0-9")

    assert not Refund.objects.filter(charge=charge).exists()
    assert stripe_refund_amounts(charge) == []
