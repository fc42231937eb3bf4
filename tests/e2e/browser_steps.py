"""Steps a person takes in the browser, shared by the journeys that string them together.

Each step asserts what the person sees when it is done, so a journey reads as the list of its steps."""

import re

from django.core import mail
from playwright.sync_api import expect

INVITATION_LINK = re.compile(r"https?://[^/\s]+(/invitations/[^/\s]+/)")


def open_stripe_settings(page):
    page.get_by_role("link", name="Settings").first.click()
    page.get_by_role("link", name="Stripe").click()


def connect_secret_key(page, secret_key: str):
    page.get_by_label("Secret key").fill(secret_key)
    page.get_by_role("button", name="Connect Stripe").click()
    expect(page.get_by_test_id("stripe-state")).to_have_text(re.compile(r"Connected · test mode"))
    expect(page.get_by_test_id("secret-key-state")).to_have_text(re.compile(rf"ending …{secret_key[-4:]}"))


def save_signing_secret(page, signing_secret: str):
    page.get_by_label("Signing secret").fill(signing_secret)
    page.get_by_role("button", name="Save signing secret").click()
    expect(page.get_by_test_id("webhook-secret-state")).to_have_text(re.compile(rf"ending …{signing_secret[-4:]}"))


def send_test_event_and_see_it_verified(page):
    page.get_by_test_id("send-test-event").click()
    expect(page.get_by_role("status")).to_contain_text("verified with the signing secret and stored")
    expect(page.get_by_test_id("sync-status")).to_contain_text("Last event received: ping")


def invite(page, email: str, role: str = "member"):
    page.get_by_role("link", name="Settings").first.click()
    page.get_by_role("link", name="Team").click()
    page.fill("#id_email", email)
    page.select_option("#id_role", role)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(f"tr[data-member-email='{email.lower()}']")).to_contain_text("Invited")


def create_role(page, name: str, permission_labels: list[str], *, shot=None):
    page.get_by_role("link", name="Settings").first.click()
    page.get_by_role("link", name="Roles").click()
    page.fill("#id_name", name)
    for label in permission_labels:
        page.get_by_label(label).check()
    if shot:
        shot("role-form")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_test_id("role-table")).to_contain_text(name)


def give_role(page, email: str, role_label: str):
    page.goto("/settings/team/")
    row = page.locator(f"tr[data-member-email='{email}']")
    row.locator("select").select_option(label=role_label)
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status")).to_contain_text(f"{email} is now {role_label}")


def join_by_newest_invitation(browser, base_url: str, *, organization_name: str, role_label: str, password: str, shot):
    """In a browser of their own, the invited person opens the newest invitation e-mail's link, chooses a password
    and joins. Returns their page; closing its context is the caller's."""
    link = INVITATION_LINK.search(mail.outbox[-1].body).group(1)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base_url)
    context.set_default_timeout(10_000)
    colleague = context.new_page()
    colleague.goto(link)
    expect(colleague.get_by_role("heading", name=f"Join {organization_name}")).to_be_visible()
    expect(colleague.locator("main")).to_contain_text(role_label)
    colleague.fill("#id_password1", password)
    colleague.fill("#id_password2", password)
    shot("colleague-sets-password", of=colleague)
    colleague.get_by_role("button", name=f"Join {organization_name}").click()
    colleague.wait_for_url(re.compile(r"/$"))
    expect(colleague.get_by_test_id("organization")).to_have_text(organization_name)
    expect(colleague.locator(".role")).to_have_text(role_label)
    return colleague


def sign_out_and_in_again(page, email: str, password: str):
    page.get_by_role("button", name="Sign out").click()
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def clerk_sends_refund(page, charge, *, offered: str, amount: str | None = None):
    """Someone who may refund but not delete charges opens the charge's invoice from the invoice list, then the
    charge's cogwheel menu (which offers no Delete), Details, Send Refund of `amount` (or of the `offered`
    remainder) and sees it succeed."""
    page.get_by_role("link", name="Invoices").first.click()
    page.get_by_role("link", name=charge.invoice.number).click()
    expect(page.get_by_role("heading", name=f"Invoice {charge.invoice.number}")).to_be_visible()
    row = page.locator(f"tr[data-charge-id='{charge.pk}']")
    row.locator("summary").click()
    expect(row.get_by_role("menuitem", name="Delete")).to_have_count(0)
    row.get_by_role("menuitem", name="Details").click()
    dialog = page.locator("#dialog")
    dialog.get_by_role("button", name="Send Refund").click()
    expect(page.locator("#id_amount")).to_have_value(offered)
    if amount is not None:
        page.fill("#id_amount", amount)
    dialog.get_by_role("button", name="Send Refund").click()
    expect(page.get_by_test_id("refund-sent")).to_contain_text("Succeeded")
