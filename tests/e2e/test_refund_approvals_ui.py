"""Four eyes in the browser (docs/rules.md, rule 21): an owner turns approvals on, a clerk's large refund waits
(the dialog says so before sending), an admin approves it on the Approvals page, and the local Stripe holds it once."""

import re

import pytest
from playwright.sync_api import expect

from flexbill.billing.models import Refund
from flexbill.stripe_gateway.client import gateway_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/"))


def type_until_previewed(page, amount: str, shown, text: str) -> None:
    """Type the amount until the live preview says `text`. A person types after the dialog's script has started; a
    browser driven at full speed on a loaded machine can type before it listens, and that keystroke is lost."""
    for _ in range(3):
        page.fill("#id_amount", "")
        page.fill("#id_amount", amount)
        try:
            expect(shown).to_contain_text(text, timeout=3000)
            return
        except AssertionError:
            continue
    expect(shown).to_contain_text(text)


def test_a_clerks_large_refund_waits_until_an_admin_approves_it_and_stripe_holds_it_once(
    org, make_member, make_paid_charge, sign_in, shot
):
    owner, admin, clerk = make_member(org, "owner"), make_member(org, "admin"), make_member(org, "clerk")
    charge = make_paid_charge(org, amount=12000)

    page = sign_in(owner)
    page.goto("/settings/organization/")
    page.get_by_test_id("approval-threshold-form").locator("#id_amount").fill("100.00")
    page.get_by_role("button", name="Save approvals").click()
    expect(page.get_by_role("status")).to_contain_text("Refund approvals are on.")
    shot("threshold-set")
    sign_out(page)

    sign_in(clerk)
    page.goto(f"/invoices/{charge.invoice_id}/")
    row = page.locator(f"tr[data-charge-id='{charge.pk}']")
    row.locator("summary").click()
    row.get_by_role("menuitem", name="Details").click()
    dialog = page.locator("#dialog")
    dialog.get_by_role("button", name="Send Refund").click()
    expect(dialog.get_by_test_id("approval-notice")).to_contain_text("Refunds of $100.00 or more")
    type_until_previewed(page, "99.99", dialog.get_by_test_id("refund-preview-amount"), "$99.99")
    expect(dialog.get_by_test_id("refund-needs-approval")).to_have_count(0)
    type_until_previewed(
        page, "110.00", dialog.get_by_test_id("refund-needs-approval"), "This refund will wait for approval"
    )
    shot("dialog-says-it-will-wait", full_page=False)
    dialog.get_by_role("button", name="Send Refund").click()
    expect(page.get_by_test_id("refund-sent")).to_contain_text("is waiting for approval")
    expect(page.get_by_test_id("refund-sent")).to_contain_text("Awaiting approval")
    shot("refund-waiting", full_page=False)
    refund = Refund.objects.get(charge=charge)
    assert (refund.status, refund.amount) == ("awaiting_approval", 11000)
    assert gateway_for(org).refunds_for_charge(charge.stripe_charge_id) == []
    page.goto("/approvals/")
    expect(page.get_by_test_id("approve")).to_have_count(0)  # a clerk may not approve
    dialog = None
    sign_out(page)

    sign_in(admin)
    page.get_by_role("link", name="Approvals").click()
    queued = page.locator(f"tr[data-refund-id='{refund.pk}']")
    expect(queued.get_by_test_id("approval-amount")).to_have_text("$110.00")
    expect(queued).to_contain_text(clerk.user.email)
    shot("approvals-queue")
    queued.get_by_test_id("approve").click()
    expect(page.get_by_role("status")).to_contain_text("Approved: the refund of $110.00 was sent to Stripe")
    expect(page.get_by_test_id("approvals-empty")).to_be_visible()
    shot("approved")

    refund.refresh_from_db()
    assert (refund.status, refund.decided_by_id) == ("succeeded", admin.user.pk)
    in_stripe = gateway_for(org).refunds_for_charge(charge.stripe_charge_id)
    assert [(r.id, r.amount) for r in in_stripe] == [(refund.stripe_refund_id, 11000)]
    page.goto(f"/invoices/{charge.invoice_id}/")
    expect(page.locator(".refund-row")).to_contain_text("Refund succeeded")
