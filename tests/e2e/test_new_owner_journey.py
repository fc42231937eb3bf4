"""The settings journey end to end, from the browser alone: an owner whose organization was created without any Stripe
keys connects Stripe, sees a signed test event verified, invites a colleague, creates a "Billing clerk" role holding
only the refund permission and gives it to them; the colleague joins by the e-mailed link and refunds part of a
charge paid through Stripe after it was connected."""

import pytest
from browser_steps import (
    clerk_sends_refund,
    connect_secret_key,
    create_role,
    give_role,
    invite,
    join_by_newest_invitation,
    open_stripe_settings,
    save_signing_secret,
    send_test_event_and_see_it_verified,
    sign_out_and_in_again,
)
from django.core.management import call_command
from playwright.sync_api import expect

from flexbill.accounts.models import CustomRole, Organization
from flexbill.billing.models import Refund
from flexbill.stripe_gateway.client import gateway_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET_KEY = "sk_test_NewOwnerJourney4321"  # the local Stripe accepts any sk_ key
SIGNING_SECRET = "whsec_NewOwnerJourney8765"
CLERK = "clerk@example.com"
CLERK_PASSWORD = "clerk-journey-passphrase"


def test_a_new_owner_connects_stripe_invites_a_billing_clerk_and_the_clerk_refunds_from_the_browser_alone(
    make_member, make_paid_charge, sign_in, shot, browser, live_server
):
    call_command("org", "create", "--slug", "journey", "--name", "Journey Desks")
    org = Organization.objects.get(slug="journey")
    assert (org.stripe_secret_key, org.stripe_webhook_secret) == ("", "")
    page = sign_in(make_member(org, "owner"))

    open_stripe_settings(page)
    expect(page.get_by_test_id("stripe-state")).to_have_text("Not connected")
    shot("01-not-connected")
    connect_secret_key(page, SECRET_KEY)
    save_signing_secret(page, SIGNING_SECRET)
    send_test_event_and_see_it_verified(page)
    shot("02-stripe-connected-and-verified")

    invite(page, CLERK)
    shot("03-invited")
    create_role(page, "Billing clerk", ["Refund charge"], shot=lambda step: shot(f"04-{step}"))
    assert CustomRole.objects.get(organization=org, name="Billing clerk").permissions == ["billing.charges.refund"]
    give_role(page, CLERK, "Billing clerk")
    shot("05-role-given")

    # A customer pays through the Stripe account the owner just connected.
    org.refresh_from_db()
    charge = make_paid_charge(org, amount=8000)

    colleague = join_by_newest_invitation(
        browser,
        live_server.url,
        organization_name=org.name,
        role_label="Billing clerk",
        password=CLERK_PASSWORD,
        shot=lambda step, of: shot(f"06-{step}", of=of),
    )
    sign_out_and_in_again(colleague, CLERK, CLERK_PASSWORD)
    shot("07-clerk-signed-in", of=colleague)

    colleague.get_by_role("link", name="Settings").click()
    pages = colleague.get_by_test_id("settings-pages")
    expect(pages).to_be_visible()
    expect(pages.get_by_role("link", name="Team")).to_have_count(0)
    expect(pages.get_by_role("link", name="Roles")).to_have_count(0)
    shot("08-clerk-settings", of=colleague)
    for path in ("/settings/team/", "/settings/roles/"):
        assert colleague.goto(path).status == 403

    clerk_sends_refund(colleague, charge, offered="80.00", amount="30.00")
    shot("09-clerk-refunded", of=colleague)
    colleague.locator("#dialog").get_by_role("button", name="Done").click()
    row = colleague.locator(f"tr[data-charge-id='{charge.pk}']")
    expect(row.locator("[data-charge-status]")).to_have_text("Partially refunded: $30.00 of $80.00")
    expect(colleague.locator(".refund-row")).to_contain_text("Refund succeeded")
    shot("10-invoice-after-refund", of=colleague)
    colleague.context.close()

    in_stripe = list(gateway_for(org).refunds_all())
    assert [(r.charge_id, r.amount, r.status) for r in in_stripe] == [(charge.stripe_charge_id, 3000, "succeeded")]
    refund = Refund.objects.get(charge=charge)
    assert (refund.stripe_refund_id, refund.amount, refund.status) == (in_stripe[0].id, 3000, "succeeded")
