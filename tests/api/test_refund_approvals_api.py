"""Refund approvals through the REST API (docs/rules.md, rule 21): the threshold setting, refunds that wait with their
amount reserved, approve and reject with every status and code, the queue."""

import json

import pytest

from api_calls import assert_error, post
from flexbill.accounts.models import Organization
from flexbill.accounts.permissions import Permission
from flexbill.accounts.services import custom_role_create
from flexbill.audit.models import AuditEvent
from flexbill.billing.models import Charge, Refund
from flexbill.stripe_gateway.client import REFUND_REFERENCE_KEY, gateway_for

UNREACHABLE_STRIPE = "http://127.0.0.1:9"  # nothing listens there: connection refused, the request never leaves
THRESHOLD = 5000


def stripe_refunds(charge) -> list:
    return gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)


def patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def admin(org, make_member):
    return make_member(org, "admin")


@pytest.fixture
def clerk(org, make_member):
    return make_member(org, "clerk")


@pytest.fixture
def approvals_on(org, owner, admin, api_client):
    response = patch(api_client(owner), "/api/v1/organization", {"refund_approval_threshold": THRESHOLD})
    assert response.status_code == 200, response.content
    org.refresh_from_db()
    return org


def ask_refund(client, charge, amount, **headers):
    return post(client, f"/api/v1/charges/{charge.pk}/refunds", {"amount": amount}, **headers)


def approve(client, refund_id):
    return post(client, f"/api/v1/refunds/{refund_id}/approve")


def reject(client, refund_id, reason="Not agreed with the member"):
    return post(client, f"/api/v1/refunds/{refund_id}/reject", {"reason": reason})


def charge_state(charge) -> tuple:
    charge = Charge.objects.get(pk=charge.pk)
    return charge.amount_reserved, charge.amount_refunded, charge.refundable_amount


def actions(refund_id) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="refund", object_id=str(refund_id))
        .order_by("id")
        .values_list("action", flat=True)
    )


# The setting --------------------------------------------------------------------------------------------------------
def test_an_owner_sets_the_approval_threshold_and_get_organization_shows_it(org, owner, admin, api_client):
    client = api_client(owner)
    assert client.get("/api/v1/organization").json()["refund_approval_threshold"] is None

    response = patch(client, "/api/v1/organization", {"refund_approval_threshold": 50000})

    assert response.status_code == 200, response.content
    assert response.json()["refund_approval_threshold"] == 50000
    assert api_client(admin).get("/api/v1/organization").json()["refund_approval_threshold"] == 50000
    event = AuditEvent.objects.filter(action="organization.preferences_changed").latest("id")
    assert (event.before, event.after) == ({"refund_approval_threshold": None}, {"refund_approval_threshold": 50000})


def test_null_turns_approvals_off(approvals_on, owner, api_client, paid_charge):
    response = patch(api_client(owner), "/api/v1/organization", {"refund_approval_threshold": None})

    assert response.status_code == 200
    assert response.json()["refund_approval_threshold"] is None
    assert ask_refund(api_client(owner), paid_charge, 9000).status_code == 201


@pytest.mark.parametrize("role", ["admin", "settings_manager"])
def test_only_owners_change_the_approval_threshold(org, owner, admin, make_member, api_client, role):
    member = admin if role == "admin" else make_member(org, "custom", [Permission.SETTINGS_MANAGE])

    response = patch(api_client(member), "/api/v1/organization", {"refund_approval_threshold": 100})

    assert_error(response, 403, "permission_denied")
    org.refresh_from_db()
    assert org.refund_approval_threshold is None


@pytest.mark.parametrize("change", ["demote", "remove", "role_edit"])
def test_while_approvals_are_on_no_change_of_team_or_roles_leaves_fewer_than_two_approvers(
    org, owner, make_member, api_client, change
):
    approver = make_member(org, "custom", permissions=[Permission.REFUNDS_APPROVE])
    owner_client = api_client(owner)
    assert patch(owner_client, "/api/v1/organization", {"refund_approval_threshold": THRESHOLD}).status_code == 200
    audit_rows = AuditEvent.objects.count()

    if change == "demote":
        response = patch(owner_client, f"/api/v1/members/{approver.pk}", {"role": "member"})
    elif change == "remove":
        response = owner_client.delete(f"/api/v1/members/{approver.pk}")
    else:
        role = approver.custom_role
        response = patch(owner_client, f"/api/v1/roles/{role.pk}", {"permissions": ["billing.invoices.view"]})

    body = assert_error(response, 409, "approvers_missing")
    assert "this change would leave 1" in body["detail"]
    approver.refresh_from_db()  # nothing changed: the member, their role and its permissions stay as they were
    assert approver.has_permission(Permission.REFUNDS_APPROVE)
    assert AuditEvent.objects.count() == audit_rows


def test_where_fewer_than_two_approvers_are_left_already_changes_that_take_none_away_still_pass(
    org, owner, make_member, api_client
):
    """Approvals on with one approver left (someone was deactivated, say): the team can still be changed, and fixed."""
    Organization.objects.filter(pk=org.pk).update(refund_approval_threshold=THRESHOLD)
    viewer, helper = make_member(org, "member"), make_member(org, "member")
    owner_client = api_client(owner)

    assert (
        patch(owner_client, f"/api/v1/members/{viewer.pk}", {"role": "custom:" + viewer_role(org)}).status_code == 200
    )
    assert owner_client.delete(f"/api/v1/members/{viewer.pk}").status_code == 204
    assert patch(owner_client, f"/api/v1/members/{helper.pk}", {"role": "admin"}).status_code == 200  # a second one
    assert_error(patch(owner_client, f"/api/v1/members/{helper.pk}", {"role": "member"}), 409, "approvers_missing")


def viewer_role(org) -> str:
    return custom_role_create(organization=org, name="Viewer", permissions=["billing.invoices.view"]).name


def test_with_approvals_off_an_approver_may_be_demoted(org, owner, make_member, api_client):
    approver = make_member(org, "custom", permissions=[Permission.REFUNDS_APPROVE])

    response = patch(api_client(owner), f"/api/v1/members/{approver.pk}", {"role": "member"})

    assert response.status_code == 200
    approver.refresh_from_db()
    assert not approver.has_permission(Permission.REFUNDS_APPROVE)


def test_with_a_third_approver_one_may_be_removed_while_approvals_are_on(org, owner, admin, make_member, api_client):
    third = make_member(org, "custom", permissions=[Permission.REFUNDS_APPROVE])
    owner_client = api_client(owner)
    assert patch(owner_client, "/api/v1/organization", {"refund_approval_threshold": THRESHOLD}).status_code == 200

    assert owner_client.delete(f"/api/v1/members/{third.pk}").status_code == 204


def test_approvals_cannot_be_turned_on_while_fewer_than_two_members_may_approve(
    org, owner, make_member, api_client, clerk
):
    make_member(org, "member")

    body = assert_error(
        patch(api_client(owner), "/api/v1/organization", {"refund_approval_threshold": 100}), 409, "approvers_missing"
    )

    assert "at least 2 members who may approve refunds" in body["detail"]
    assert "this organization has 1" in body["detail"]
    org.refresh_from_db()
    assert org.refund_approval_threshold is None
    # A custom role given the permission makes a second approver.
    make_member(org, "custom", [Permission.REFUNDS_APPROVE])
    assert patch(api_client(owner), "/api/v1/organization", {"refund_approval_threshold": 100}).status_code == 200


@pytest.mark.parametrize("value", [0, -1, 10**12 + 1, "5000", 50.5, True, "５０００", [5000], {"amount": 1}])
def test_a_threshold_that_is_not_a_whole_positive_amount_is_refused(org, owner, admin, api_client, value):
    response = patch(api_client(owner), "/api/v1/organization", {"refund_approval_threshold": value})

    assert_error(response, 400)
    org.refresh_from_db()
    assert org.refund_approval_threshold is None


# Asking: awaiting_approval ---------------------------------------------------------------------------------------
def test_a_refund_at_the_threshold_waits_for_approval_reserved_and_unsent(approvals_on, clerk, api_client, paid_charge):
    response = ask_refund(api_client(clerk), paid_charge, THRESHOLD)

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["amount"], body["created_by"]) == ("awaiting_approval", THRESHOLD, clerk.user.email)
    assert (body["decided_by"], body["decided_at"]) == (None, None)
    assert stripe_refunds(paid_charge) == []
    assert charge_state(paid_charge) == (THRESHOLD, 0, 10000 - THRESHOLD)
    assert actions(body["id"]) == ["refund.awaiting_approval"]


def test_the_reserved_amount_cannot_be_taken_by_another_refund(approvals_on, clerk, api_client, paid_charge):
    ask_refund(api_client(clerk), paid_charge, 6000)

    assert_error(ask_refund(api_client(clerk), paid_charge, 4001), 409, "amount_too_large")
    assert ask_refund(api_client(clerk), paid_charge, 4000).status_code == 201  # below the threshold: sent at once


def test_a_refund_below_the_threshold_is_sent_at_once(approvals_on, clerk, api_client, paid_charge):
    response = ask_refund(api_client(clerk), paid_charge, THRESHOLD - 1)

    assert response.status_code == 201
    assert response.json()["status"] == "succeeded"
    assert len(stripe_refunds(paid_charge)) == 1


def test_an_owners_large_refund_waits_too(approvals_on, owner, api_client, paid_charge):
    response = post(api_client(owner), f"/api/v1/charges/{paid_charge.pk}/refunds", {})  # all that remains

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["amount"]) == ("awaiting_approval", 10000)


def test_a_replayed_request_answers_with_the_same_waiting_refund(approvals_on, clerk, api_client, paid_charge):
    client = api_client(clerk)
    first = ask_refund(client, paid_charge, 7000, **{"Idempotency-Key": "big-1"})
    again = ask_refund(client, paid_charge, 7000, **{"Idempotency-Key": "big-1"})

    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert Refund.objects.filter(charge=paid_charge).count() == 1


def test_the_queue_lists_refunds_awaiting_approval(approvals_on, clerk, admin, api_client, make_paid_charge):
    waiting = ask_refund(api_client(clerk), make_paid_charge(approvals_on), 8000).json()
    ask_refund(api_client(clerk), make_paid_charge(approvals_on), 100)  # sent at once

    response = api_client(admin).get("/api/v1/refunds?status=awaiting_approval")

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["items"]] == [waiting["id"]]
    assert_error(api_client(admin).get("/api/v1/refunds?status=waiting"), 400, "invalid")


# Approving ----------------------------------------------------------------------------------------------------
def test_another_approver_approves_and_stripe_holds_the_refund_once(
    approvals_on, clerk, admin, api_client, paid_charge
):
    waiting = ask_refund(api_client(clerk), paid_charge, 8000).json()

    response = approve(api_client(admin), waiting["id"])

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["decided_by"]) == ("succeeded", admin.user.email)
    assert body["decided_at"] is not None
    [in_stripe] = stripe_refunds(paid_charge)
    assert (in_stripe.id, in_stripe.amount) == (body["stripe_refund_id"], 8000)
    assert in_stripe.metadata[REFUND_REFERENCE_KEY] == str(Refund.objects.get(pk=waiting["id"]).reference)
    assert charge_state(paid_charge) == (8000, 8000, 2000)
    assert actions(waiting["id"])[:2] == ["refund.awaiting_approval", "refund.approved"]


def test_the_requester_approving_their_own_refund_is_refused(approvals_on, owner, api_client, paid_charge):
    waiting = ask_refund(api_client(owner), paid_charge, 8000).json()

    body = assert_error(approve(api_client(owner), waiting["id"]), 403, "own_refund")

    assert "someone else" in body["detail"]
    assert Refund.objects.get(pk=waiting["id"]).status == "awaiting_approval"
    assert stripe_refunds(paid_charge) == []


@pytest.mark.parametrize("role", ["clerk", "member"])
def test_approving_needs_the_approve_permission(approvals_on, owner, make_member, api_client, paid_charge, role):
    waiting = ask_refund(api_client(owner), paid_charge, 8000).json()
    member = make_member(approvals_on, role)

    assert_error(approve(api_client(member), waiting["id"]), 403, "permission_denied")
    assert_error(reject(api_client(member), waiting["id"]), 403, "permission_denied")
    assert Refund.objects.get(pk=waiting["id"]).status == "awaiting_approval"


def test_a_custom_role_given_the_approve_permission_may_approve(
    approvals_on, clerk, make_member, api_client, paid_charge
):
    approver = make_member(approvals_on, "custom", [Permission.REFUNDS_APPROVE])
    waiting = ask_refund(api_client(clerk), paid_charge, 8000).json()

    assert approve(api_client(approver), waiting["id"]).json()["status"] == "succeeded"


def test_approving_or_rejecting_twice_is_refused(approvals_on, clerk, owner, admin, api_client, make_paid_charge):
    approved = ask_refund(api_client(clerk), make_paid_charge(approvals_on), 8000).json()
    rejected = ask_refund(api_client(clerk), make_paid_charge(approvals_on), 8000).json()
    assert approve(api_client(admin), approved["id"]).status_code == 200
    assert reject(api_client(admin), rejected["id"]).status_code == 200

    for response in (
        approve(api_client(owner), approved["id"]),
        reject(api_client(owner), approved["id"]),
        approve(api_client(owner), rejected["id"]),
        reject(api_client(owner), rejected["id"]),
    ):
        assert_error(response, 409, "not_awaiting_approval")
    assert len(stripe_refunds(Refund.objects.get(pk=approved["id"]).charge)) == 1
    assert stripe_refunds(Refund.objects.get(pk=rejected["id"]).charge) == []


def test_an_approved_refund_stripe_cannot_take_is_handled_as_any_refund(
    settings, approvals_on, clerk, admin, api_client, paid_charge
):
    waiting = ask_refund(api_client(clerk), paid_charge, 8000).json()
    settings.FLEXBILL_STRIPE_API_BASE = UNREACHABLE_STRIPE

    body = assert_error(approve(api_client(admin), waiting["id"]), 502, "stripe_error")

    assert "Nothing was changed" in body["detail"]
    assert not Refund.objects.filter(pk=waiting["id"]).exists()  # released, as when Stripe refuses any refund
    assert charge_state(paid_charge) == (0, 0, 10000)
    assert actions(waiting["id"]) == ["refund.awaiting_approval", "refund.approved", "refund.rejected"]


def test_marking_the_charge_refunded_withdraws_the_waiting_refund_so_approving_it_is_refused(
    approvals_on, clerk, admin, api_client, paid_charge
):
    waiting = ask_refund(api_client(clerk), paid_charge, 8000).json()
    marked = post(api_client(admin), f"/api/v1/charges/{paid_charge.pk}/status", {"status": "refunded"})
    assert marked.status_code == 200

    assert_error(approve(api_client(admin), waiting["id"]), 409, "not_awaiting_approval")

    assert stripe_refunds(paid_charge) == []
    assert Refund.objects.get(pk=waiting["id"]).status == "canceled"


def test_another_organizations_refund_is_not_found(approvals_on, clerk, make_org, make_member, api_client, paid_charge):
    waiting = ask_refund(api_client(clerk), paid_charge, 8000).json()
    stranger = make_member(make_org(), "owner")

    assert_error(approve(api_client(stranger), waiting["id"]), 404, "not_found")
    assert_error(reject(api_client(stranger), waiting["id"]), 404, "not_found")
    assert_error(approve(api_client(stranger), 10**9), 404, "not_found")
    assert Refund.objects.get(pk=waiting["id"]).status == "awaiting_approval"


# Rejecting ----------------------------------------------------------------------------------------------------
def test_rejecting_cancels_the_refund_and_releases_its_amount(approvals_on, clerk, admin, api_client, paid_charge):
    waiting = ask_refund(api_client(clerk), paid_charge, 8000).json()

    response = reject(api_client(admin), waiting["id"], "  Member stayed the whole month  ")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["failure_reason"], body["decided_by"]) == (
        "canceled",
        "Member stayed the whole month",
        admin.user.email,
    )
    assert charge_state(paid_charge) == (0, 0, 10000)
    assert stripe_refunds(paid_charge) == []
    assert actions(waiting["id"]) == ["refund.awaiting_approval", "refund.approval_rejected"]
    assert AuditEvent.objects.get(object_id=str(waiting["id"]), action="refund.approval_rejected").message == (
        "Member stayed the whole month"
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "invalid"), ({"reason": ""}, "reason_required"), ({"reason": " \n\t"}, "reason_required"),
     ({"reason": 5}, "invalid"), ({"reason": None}, "invalid"), ({"reason": "x" * 501}, "reason_invalid"),
     ({"reason": "x" * 10001}, "invalid")],
)  # fmt: skip
def test_a_rejection_needs_a_reason(approvals_on, clerk, admin, api_client, paid_charge, body, code):
    waiting = ask_refund(api_client(clerk), paid_charge, 8000).json()

    assert_error(post(api_client(admin), f"/api/v1/refunds/{waiting['id']}/reject", body), 400, code)
    assert Refund.objects.get(pk=waiting["id"]).status == "awaiting_approval"


def test_the_requester_may_withdraw_their_own_refund_when_they_may_approve(
    approvals_on, owner, api_client, paid_charge
):
    waiting = ask_refund(api_client(owner), paid_charge, 8000).json()

    assert reject(api_client(owner), waiting["id"], "Asked by mistake").json()["status"] == "canceled"


def test_the_refunds_export_filters_the_queue_too(approvals_on, clerk, admin, api_client, make_paid_charge):
    waiting = ask_refund(api_client(clerk), make_paid_charge(approvals_on), 8000).json()
    ask_refund(api_client(clerk), make_paid_charge(approvals_on), 100)

    response = api_client(admin).get("/api/v1/exports/refunds.csv?status=awaiting_approval")

    assert response.status_code == 200
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert len(rows) == 2 and str(waiting["id"]) in rows[1] and "awaiting_approval" in rows[1]
