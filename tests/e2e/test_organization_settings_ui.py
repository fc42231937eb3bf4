"""From the browser alone: a new owner connects Stripe (the local Stripe), pastes the signing secret and sees a
signed test event verified; a change of locale in the preferences changes how every amount reads."""

import pytest
from browser_steps import (
    connect_secret_key,
    open_stripe_settings,
    save_signing_secret,
    send_test_event_and_see_it_verified,
)
from playwright.sync_api import expect

from flexbill.accounts.models import Organization
from flexbill.billing.models import WebhookEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET_KEY = "sk_test_BrowserPastedKey1234"  # the local Stripe accepts any sk_ key
SIGNING_SECRET = "whsec_BrowserPastedSecret5678"


def test_a_new_owner_connects_stripe_pastes_the_signing_secret_and_sees_the_test_event_verified(
    make_org, make_member, sign_in, shot, live_server
):
    org = make_org(stripe_secret_key="", stripe_webhook_secret="")
    page = sign_in(make_member(org, "owner"))

    open_stripe_settings(page)
    expect(page.get_by_test_id("stripe-state")).to_have_text("Not connected")
    expect(page.get_by_test_id("webhook-url")).to_have_text(f"{live_server.url}/webhooks/stripe/{org.slug}/")
    expect(page.get_by_test_id("webhook-events").locator("li")).to_have_count(5)
    expect(page.get_by_test_id("send-test-event")).to_be_disabled()
    shot("not-connected")

    page.get_by_label("Secret key").fill("pk_test_NotASecretKey00")
    page.get_by_role("button", name="Connect Stripe").click()
    expect(page.get_by_text("That is not a Stripe secret key")).to_be_visible()
    expect(page.get_by_label("Secret key")).to_have_value("")  # never rendered back

    connect_secret_key(page, SECRET_KEY)
    save_signing_secret(page, SIGNING_SECRET)
    send_test_event_and_see_it_verified(page)
    shot("connected-and-verified")

    html = page.content()
    assert SECRET_KEY not in html and SIGNING_SECRET not in html
    fresh = Organization.objects.get(pk=org.pk)
    assert (fresh.stripe_secret_key, fresh.stripe_webhook_secret) == (SECRET_KEY, SIGNING_SECRET)
    assert WebhookEvent.objects.filter(organization=org, verified=True, event_type="ping").count() == 1


def test_an_owner_switches_the_organization_to_german_and_euro_and_amounts_read_that_way(
    make_org, make_member, make_customer, make_invoice, sign_in, shot
):
    org = make_org()
    customer, _ = make_customer(org)
    make_invoice(org, customer, total=123450, currency="eur")
    page = sign_in(make_member(org, "owner"))
    expect(page.locator("table").first).to_contain_text("€1,234.50")

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Organization").click()
    page.get_by_label("Default currency").select_option("eur")
    page.get_by_label("Locale for money").fill("de_DE")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_have_text("Preferences saved.")
    shot("preferences")

    page.get_by_role("link", name="Invoices").click()
    expect(page.locator("table").first).to_contain_text("1.234,50\xa0€")
    shot("invoices-in-german")
    assert Organization.objects.filter(pk=org.pk, locale="de_DE", default_currency="eur").exists()
