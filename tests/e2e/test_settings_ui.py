"""From the browser alone: a new owner invites a colleague, creates a "Billing clerk" role holding only the refund
permission and gives it to them; the colleague joins through the e-mailed link and refunds a charge in Stripe."""

import pytest
from browser_steps import (
    clerk_sends_refund,
    create_role,
    give_role,
    invite,
    join_by_newest_invitation,
    sign_out_and_in_again,
)

from flexbill.accounts.models import CustomRole, Membership
from flexbill.billing import stripe_reads

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_owner_invites_a_billing_clerk_who_joins_by_the_link_and_refunds_a_charge(
    org, make_member, make_paid_charge, sign_in, shot, browser, live_server
):
    owner = make_member(org, "owner")
    charge = make_paid_charge(org, amount=8000)
    page = sign_in(owner)

    invite(page, "Colleague@Example.com")
    shot("invited")
    create_role(page, "Billing clerk", ["Refund charge"], shot=shot)
    assert CustomRole.objects.get(organization=org, name="Billing clerk").permissions == ["billing.charges.refund"]
    give_role(page, "colleague@example.com", "Billing clerk")
    shot("role-given")

    colleague = join_by_newest_invitation(
        browser,
        live_server.url,
        organization_name=org.name,
        role_label="Billing clerk",
        password="clerk-passphrase-1",
        shot=shot,
    )
    # Signed out, they sign in again with the password they chose.
    sign_out_and_in_again(colleague, "colleague@example.com", "clerk-passphrase-1")
    clerk_sends_refund(colleague, charge, offered="80.00")
    shot("colleague-refunded", of=colleague)
    colleague.context.close()

    member = Membership.objects.get(organization=org, user__username="colleague@example.com")
    assert member.is_active and member.role_label == "Billing clerk"
    stripe_refunds = stripe_reads.charge_stripe_details(charge=charge).refunds
    assert [(r.amount, r.status) for r in stripe_refunds] == [(8000, "succeeded")]
