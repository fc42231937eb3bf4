"""/api/v1/roles: custom roles and their permissions. Nobody grants what they do not hold; a role in use stays."""

import json

import pytest

from flexbill.accounts.models import CustomRole
from flexbill.accounts.permissions import Permission
from flexbill.audit.models import AuditEvent


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def owner_client(owner, api_client):
    return api_client(owner)


def test_a_role_is_created_listed_renamed_changed_and_deleted_with_each_change_audited(org, owner_client):
    created = post(owner_client, "/api/v1/roles", {"name": "Billing clerk", "permissions": ["billing.charges.refund"]})
    assert created.status_code == 201, created.content
    role = created.json()
    assert role["name"] == "Billing clerk" and role["permissions"] == ["billing.charges.refund"]
    assert owner_client.get("/api/v1/roles").json() == [role]

    renamed = patch(owner_client, f"/api/v1/roles/{role['id']}", {"name": "Refunds desk"})
    changed = patch(
        owner_client,
        f"/api/v1/roles/{role['id']}",
        {"permissions": ["billing.charges.refund", "billing.credit_notes.create"]},
    )
    assert renamed.json()["name"] == "Refunds desk"
    assert changed.json() == {
        "id": role["id"],
        "name": "Refunds desk",
        "permissions": ["billing.charges.refund", "billing.credit_notes.create"],
    }
    assert owner_client.delete(f"/api/v1/roles/{role['id']}").status_code == 204
    assert not CustomRole.objects.filter(pk=role["id"]).exists()
    actions = list(
        AuditEvent.objects.filter(organization=org, object_type="customrole").values_list("action", flat=True)
    )
    assert sorted(actions) == ["role.created", "role.deleted", "role.updated", "role.updated"]


@pytest.mark.parametrize(
    "permissions", [["billing.charges.refund_all"], ["BILLING.CHARGES.REFUND"], [""], ["settings.manage", "x" * 100]]
)
def test_an_unknown_permission_is_a_400_and_creates_nothing(org, owner_client, permissions):
    response = post(owner_client, "/api/v1/roles", {"name": "Clerk", "permissions": permissions})
    assert response.status_code == 400 and response.json()["code"] in ("unknown_permission", "invalid")
    assert not CustomRole.objects.filter(organization=org).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "permissions": []},
        {"name": "   ", "permissions": []},
        {"name": "x" * 201, "permissions": []},
        {"name": "Clerk\u200b", "permissions": []},
        {"name": "Clerk\nDesk", "permissions": []},
        {"name": "Clerk", "permissions": "billing.charges.refund"},
        {"name": "Clerk", "permissions": [1]},
        {"name": 5, "permissions": []},
        {"name": "Clerk", "permissions": ["billing.charges.refund"] * 51},
    ],
)
def test_odd_role_input_is_a_400_never_a_500(org, owner_client, body):
    response = post(owner_client, "/api/v1/roles", body)
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"detail", "code"}


def test_nobody_grants_a_permission_they_do_not_hold(org, make_member, api_client):
    limited = make_member(org, "custom", permissions=[Permission.SETTINGS_MANAGE, Permission.CREDIT_NOTES_CREATE])
    client = api_client(limited)
    mine = post(client, "/api/v1/roles", {"name": "Notes", "permissions": ["billing.credit_notes.create"]})
    assert mine.status_code == 201

    created = post(client, "/api/v1/roles", {"name": "Clerk", "permissions": ["billing.charges.refund"]})
    widened = patch(
        client,
        f"/api/v1/roles/{mine.json()['id']}",
        {"permissions": ["billing.credit_notes.create", "audit.events.view"]},
    )
    # Nor through their own role: it would give them what they lack.
    own = patch(client, f"/api/v1/roles/{limited.custom_role_id}", {"permissions": list(Permission)})

    assert (created.status_code, widened.status_code, own.status_code) == (403, 403, 403)
    assert "Billing › Charges › Refund charge" in created.json()["detail"]
    assert CustomRole.objects.get(pk=mine.json()["id"]).permissions == ["billing.credit_notes.create"]
    assert not CustomRole.objects.filter(organization=org, name="Clerk").exists()


def test_nobody_changes_a_role_holding_permissions_they_lack(org, make_member, api_client):
    clerk_role = make_member(org, "clerk").custom_role
    client = api_client(make_member(org, "custom", permissions=[Permission.SETTINGS_MANAGE]))

    assert patch(client, f"/api/v1/roles/{clerk_role.pk}", {"permissions": []}).status_code == 403
    assert client.delete(f"/api/v1/roles/{clerk_role.pk}").status_code == 403
    clerk_role.refresh_from_db()
    assert clerk_role.permissions == ["billing.charges.refund"]


def test_a_role_in_use_cannot_be_deleted_and_the_answer_names_who_holds_it(org, owner_client, make_member):
    clerk = make_member(org, "clerk")
    response = owner_client.delete(f"/api/v1/roles/{clerk.custom_role_id}")

    assert response.status_code == 409 and response.json()["code"] == "role_in_use"
    assert clerk.user.email in response.json()["detail"]
    assert CustomRole.objects.filter(pk=clerk.custom_role_id).exists()


def test_a_role_held_only_by_an_invitation_is_in_use_too(org, owner_client):
    role = post(owner_client, "/api/v1/roles", {"name": "Desk", "permissions": []}).json()
    post(owner_client, "/api/v1/members", {"email": "grace@example.com", "role": "custom:Desk"})

    response = owner_client.delete(f"/api/v1/roles/{role['id']}")
    assert response.status_code == 409 and "grace@example.com" in response.json()["detail"]


@pytest.mark.parametrize("taken", ["Billing clerk", "billing clerk", "  Billing   clerk "])
def test_role_names_are_unique_per_organization_whatever_the_case_or_spacing(
    org, owner_client, make_org, make_member, api_client, taken
):
    post(owner_client, "/api/v1/roles", {"name": "Billing clerk", "permissions": []})
    other = post(owner_client, "/api/v1/roles", {"name": "Front desk", "permissions": []}).json()

    created = post(owner_client, "/api/v1/roles", {"name": taken, "permissions": []})
    renamed = patch(owner_client, f"/api/v1/roles/{other['id']}", {"name": taken})

    assert created.status_code == 409 and created.json()["code"] == "name_taken"
    assert renamed.status_code == 409 and "already exists" in renamed.json()["detail"]
    # Another organization may use the name.
    elsewhere = api_client(make_member(make_org(), "owner"))
    assert post(elsewhere, "/api/v1/roles", {"name": "Billing clerk", "permissions": []}).status_code == 201


def test_another_organizations_role_is_not_found_and_unchanged(make_org, make_member, owner_client):
    theirs = make_member(make_org(), "clerk").custom_role
    assert patch(owner_client, f"/api/v1/roles/{theirs.pk}", {"name": "Mine now"}).status_code == 404
    assert owner_client.delete(f"/api/v1/roles/{theirs.pk}").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name.startswith("role-")


def test_a_permission_taken_out_of_a_role_is_refused_to_its_holders_at_once(
    org, owner_client, make_member, api_client, paid_charge
):
    clerk = make_member(org, "clerk")
    clerk_client = api_client(clerk)
    patch(owner_client, f"/api/v1/roles/{clerk.custom_role_id}", {"permissions": []})

    response = post(clerk_client, f"/api/v1/charges/{paid_charge.pk}/refunds", {"amount": 100})

    assert response.status_code == 403
