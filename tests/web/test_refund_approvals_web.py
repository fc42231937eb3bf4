"""Refund approvals in the admin UI (docs/rules.md, rule 21): the threshold under Settings → Organization (owners),
the Send Refund dialog saying beforehand that a refund will wait, the Approvals page with Approve and Reject."""

import pytest

from flexbill.accounts.models import Organization
from flexbill.accounts.permissions import Permission
from flexbill.audit.services import Actor
from flexbill.billing import services
from flexbill.billing.models import Refund
from flexbill.stripe_gateway.client import gateway_for
from web_calls import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(org, owner, make_member):
    return owner, make_member(org, "admin"), make_member(org, "clerk")


def threshold(org):
    return Organization.objects.get(pk=org.pk).refund_approval_threshold


# Settings ---------------------------------------------------------------------------------------------------------
def test_an_owner_types_the_threshold_in_the_organizations_locale(org, team, make_org):
    Organization.objects.filter(pk=org.pk).update(locale="de_DE", default_currency="eur")
    client = signed_in(team[0])

    response = client.post("/settings/organization/refund-approvals/", {"amount": "1.500,00"}, follow=True)

    assert threshold(org) == 150000
    assert "Refund approvals are on." in response.content.decode()
    assert 'value="1.500,00"' in client.get("/settings/organization/").content.decode()
    client.post("/settings/organization/refund-approvals/", {"amount": ""})
    assert threshold(org) is None


@pytest.mark.parametrize("typed", ["1.500,00", "-5", "0", "0,00", "١٥٠٠", "12.345", "abc", "10000000000.01"])
def test_a_threshold_that_is_not_an_amount_here_is_refused_next_to_the_field(org, team, typed):
    response = signed_in(team[0]).post("/settings/organization/refund-approvals/", {"amount": typed})

    assert response.status_code == 200
    assert 'class="field-error"' in response.content.decode()
    assert threshold(org) is None


def test_the_threshold_form_says_why_approvals_cannot_be_turned_on_alone(org, owner):
    response = signed_in(owner).post("/settings/organization/refund-approvals/", {"amount": "100"})

    assert "at least 2 members who may approve refunds" in response.content.decode()
    assert threshold(org) is None


def test_an_admin_sees_the_threshold_but_cannot_change_it(org, team):
    owner, admin, _ = team
    signed_in(owner).post("/settings/organization/refund-approvals/", {"amount": "50"})
    client = signed_in(admin)

    page = client.get("/settings/organization/").content.decode()
    assert "approval-threshold-form" not in page
    assert "$50.00" in page and "Only owners change this." in page
    response = client.post("/settings/organization/refund-approvals/", {"amount": ""})
    assert response.status_code == 403
    assert "Only owners change the refund approval threshold." in response.content.decode()
    assert threshold(org) == 5000


def test_the_approve_permission_is_in_the_role_editors_tree(org, owner):
    page = signed_in(owner).get("/settings/roles/").content.decode()
    assert Permission.REFUNDS_APPROVE.value in page
    assert "Refunds" in page


# The Send Refund dialog ---------------------------------------------------------------------------------------------
def test_the_refund_dialog_says_beforehand_that_a_large_refund_will_wait(org, team, paid_charge):
    owner, _, clerk = team
    signed_in(owner).post("/settings/organization/refund-approvals/", {"amount": "50"})
    client = signed_in(clerk)

    dialog = client.get(f"/charges/{paid_charge.pk}/refund/").content.decode()
    assert "Refunds of $50.00 or more" in dialog
    assert "This refund will wait for approval" in dialog  # prefilled with all that remains: $100.00

    small = client.get(f"/charges/{paid_charge.pk}/refund/preview/", {"amount": "49.99"}).content.decode()
    large = client.get(f"/charges/{paid_charge.pk}/refund/preview/", {"amount": "50.00"}).content.decode()
    assert "will wait for approval" not in small
    assert "will wait for approval" in large

    form = {"amount": "60", "reason": "requested_by_customer", "idempotency_key": "web-0123456789abcdef"}
    sent = client.post(f"/charges/{paid_charge.pk}/refund/", form, HTTP_HX_REQUEST="true").content.decode()
    assert "is waiting for approval" in sent
    assert Refund.objects.get(charge=paid_charge).status == "awaiting_approval"


def test_without_a_threshold_the_dialog_says_nothing_of_approval(org, owner, paid_charge):
    dialog = signed_in(owner).get(f"/charges/{paid_charge.pk}/refund/").content.decode()
    assert "approval" not in dialog


# The Approvals page -------------------------------------------------------------------------------------------------
@pytest.fixture
def waiting(org, team, paid_charge):
    owner, _, clerk = team
    signed_in(owner).post("/settings/organization/refund-approvals/", {"amount": "50"})
    return services.refund_create(
        actor=Actor.for_membership(clerk), charge=paid_charge, amount=6000, note="Desk never used"
    )


def test_the_approvals_page_lists_the_queue_and_an_approver_approves(team, waiting, paid_charge):
    client = signed_in(team[1])
    page = client.get("/approvals/").content.decode()
    assert f'data-refund-id="{waiting.pk}"' in page
    assert "$60.00" in page and "Desk never used" in page and team[2].user.email in page

    response = client.post(f"/approvals/{waiting.pk}/approve/", follow=True)

    assert "Approved: the refund of $60.00 was sent to Stripe" in response.content.decode()
    assert Refund.objects.get(pk=waiting.pk).status == "succeeded"
    assert len(gateway_for(paid_charge.organization).refunds_for_charge(paid_charge.stripe_charge_id)) == 1
    assert "No refund is waiting for approval." in client.get("/approvals/").content.decode()


def test_an_approver_rejects_with_a_reason_and_a_missing_reason_is_said(team, waiting):
    client = signed_in(team[0])

    refused = client.post(f"/approvals/{waiting.pk}/reject/", {"reason": "  "}, follow=True).content.decode()
    assert "Say why the refund is rejected" in refused
    assert Refund.objects.get(pk=waiting.pk).status == "awaiting_approval"

    done = client.post(f"/approvals/{waiting.pk}/reject/", {"reason": "Used the desk"}, follow=True).content.decode()
    assert "Rejected: the refund of $60.00 is canceled" in done
    assert Refund.objects.get(pk=waiting.pk).failure_reason == "Used the desk"


def test_the_page_offers_no_approve_button_to_the_requester_and_refuses_it_anyway(org, team, make_paid_charge):
    owner = team[0]
    signed_in(owner).post("/settings/organization/refund-approvals/", {"amount": "50"})
    own = services.refund_create(actor=Actor.for_membership(owner), charge=make_paid_charge(org), amount=9000)
    client = signed_in(owner)

    page = client.get("/approvals/").content.decode()
    assert "You asked for this refund" in page
    response = client.post(f"/approvals/{own.pk}/approve/", follow=True).content.decode()
    assert "was not approved" in response and "someone else" in response
    assert Refund.objects.get(pk=own.pk).status == "awaiting_approval"


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_members_without_the_approve_permission_get_a_403_page(team, waiting, action):
    response = signed_in(team[2]).post(f"/approvals/{waiting.pk}/{action}/", {"reason": "x"})

    assert response.status_code == 403
    assert Refund.objects.get(pk=waiting.pk).status == "awaiting_approval"
    assert 'data-testid="approve"' not in signed_in(team[2]).get("/approvals/").content.decode()


def test_another_organizations_refund_is_not_found_from_the_page(waiting, make_org, make_member):
    stranger = make_member(make_org(), "owner")
    assert signed_in(stranger).post(f"/approvals/{waiting.pk}/approve/").status_code == 404
    assert Refund.objects.get(pk=waiting.pk).status == "awaiting_approval"
