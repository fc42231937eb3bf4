"""From the browser alone: a new owner invites a colleague, creates a "Billing clerk" role holding only the refund
permission and gives it to them; the colleague joins through the e-mailed link and refunds a charge in Stripe."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from flexbill.accounts.models import CustomRole, Membership
from flexbill.billing import selectors

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"https?://[^/\s]+(/invitations/[^/\s]+/)")


def test_an_owner_invites_a_billing_clerk_who_joins_by_the_link_and_refunds_a_charge(
    org, make_member, make_paid_charge, sign_in, shot, browser, live_server
):
    owner = make_member(org, "owner")
    charge = make_paid_charge(org, amount=8000)
    page = sign_in(owner)

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Team").click()
    page.fill("#id_email", "Colleague@Example.com")
    page.select_option("#id_role", "member")
    page.get_by_role("button", name="Send invitation").click()
    row = page.locator("tr[data-member-email='colleague@example.com']")
    expect(row).to_contain_text("Invited")
    shot("invited")

    page.get_by_role("link", name="Settings").first.click()
    page.get_by_role("link", name="Roles").click()
    page.fill("#id_name", "Billing clerk")
    page.get_by_label("Refund charge").check()
    shot("role-form")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_test_id("role-table")).to_contain_text("Billing clerk")
    assert CustomRole.objects.get(organization=org, name="Billing clerk").permissions == ["billing.charges.refund"]

    page.goto("/settings/team/")
    row = page.locator("tr[data-member-email='colleague@example.com']")
    row.locator("select").select_option(label="Billing clerk")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status")).to_contain_text("colleague@example.com is now Billing clerk")
    shot("role-given")

    # The colleague, in a browser of their own, opens the newest invitation e-mail's link.
    link = LINK.search(mail.outbox[-1].body).group(1)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    colleague = context.new_page()
    colleague.goto(link)
    expect(colleague.get_by_role("heading", name=f"Join {org.name}")).to_be_visible()
    expect(colleague.locator("main")).to_contain_text("Billing clerk")
    colleague.fill("#id_password1", "clerk-passphrase-1")
    colleague.fill("#id_password2", "clerk-passphrase-1")
    shot("colleague-sets-password", of=colleague)
    colleague.get_by_role("button", name=f"Join {org.name}").click()
    colleague.wait_for_url(re.compile(r"/$"))
    expect(colleague.get_by_test_id("organization")).to_have_text(org.name)
    expect(colleague.locator(".role")).to_have_text("Billing clerk")

    # Signed out, they sign in again with the password they chose.
    colleague.get_by_role("button", name="Sign out").click()
    colleague.fill("#id_username", "colleague@example.com")
    colleague.fill("#id_password", "clerk-passphrase-1")
    colleague.click("button[type=submit]")
    colleague.wait_for_url(re.compile(r"/$"))

    colleague.goto(f"/invoices/{charge.invoice_id}/")
    charge_row = colleague.locator(f"tr[data-charge-id='{charge.pk}']")
    charge_row.locator("summary").click()
    expect(charge_row.get_by_role("menuitem", name="Delete")).to_have_count(0)
    charge_row.get_by_role("menuitem", name="Details").click()
    colleague.locator("#dialog").get_by_role("button", name="Send Refund").click()
    expect(colleague.locator("#id_amount")).to_have_value("80.00")
    colleague.locator("#dialog").get_by_role("button", name="Send Refund").click()
    expect(colleague.get_by_test_id("refund-sent")).to_contain_text("Succeeded")
    shot("colleague-refunded", of=colleague)
    context.close()

    member = Membership.objects.get(organization=org, user__username="colleague@example.com")
    assert member.is_active and member.role_label == "Billing clerk"
    stripe_refunds = selectors.charge_stripe_details(charge=charge).refunds
    assert [(r.amount, r.status) for r in stripe_refunds] == [(8000, "succeeded")]
