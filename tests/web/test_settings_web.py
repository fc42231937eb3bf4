"""Settings pages in the browser's terms: team, roles, personal API tokens, forgotten and changed passwords."""

import re

import pytest
from django.core import mail
from django.test import Client

from flexbill.accounts.models import ApiToken, CustomRole, Membership
from flexbill.accounts.permissions import Permission
from flexbill.accounts.preferences import organization_preferences_update
from flexbill.audit.models import AuditEvent
from flexbill.audit.services import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner.user)
    return client


def test_every_signed_in_member_finds_the_settings_pages_they_may_use(org, make_member):
    member = Client()
    member.force_login(make_member(org, "member").user)

    page = member.get("/settings/").content.decode()

    assert 'href="/settings/"' in page and "/settings/api-tokens/" in page and "/settings/password/" in page
    assert "/settings/team/" not in page and "/settings/roles/" not in page
    for path in ("/settings/team/", "/settings/roles/"):
        assert member.get(path).status_code == 403
        assert member.post(path, {"email": "a@example.com", "role": "member", "name": "X"}).status_code == 403
    assert not CustomRole.objects.filter(organization=org).exists()
    assert Membership.objects.filter(organization=org).count() == 1


def test_the_role_editor_shows_the_permission_tree_and_creates_a_role_with_what_was_ticked(org, owner_client):
    page = owner_client.get("/settings/roles/").content.decode()
    for label in (
        "Billing",
        "Charges",
        "Refund charge",
        "Change status",
        "Credit notes",
        "Invoices",
        "Audit",
        "Settings",
    ):
        assert f"{label}" in page
    response = owner_client.post(
        "/settings/roles/", {"name": "Billing clerk", "permissions": ["billing.charges.refund"]}
    )

    assert response.status_code == 302
    assert CustomRole.objects.get(organization=org, name="Billing clerk").permissions == ["billing.charges.refund"]


def test_a_refused_role_is_explained_next_to_its_field(org, owner_client):
    owner_client.post("/settings/roles/", {"name": "Desk", "permissions": []})
    taken = owner_client.post("/settings/roles/", {"name": "desk", "permissions": []})
    unknown = owner_client.post("/settings/roles/", {"name": "Other", "permissions": ["billing.everything"]})

    assert taken.status_code == 400 and "already exists" in taken.content.decode()
    assert unknown.status_code == 400 and "not one of the available choices" in unknown.content.decode()
    assert CustomRole.objects.filter(organization=org).count() == 1


def test_deleting_a_role_in_use_shows_who_holds_it(org, owner_client, make_member):
    clerk = make_member(org, "clerk")
    response = owner_client.post(f"/settings/roles/{clerk.custom_role_id}/delete/", follow=True)
    assert clerk.user.email in response.content.decode() and "Give them another role" in response.content.decode()
    assert CustomRole.objects.filter(pk=clerk.custom_role_id).exists()


def test_an_invitation_to_a_bad_address_is_refused_next_to_the_field(org, owner_client):
    response = owner_client.post("/settings/team/", {"email": "not an address", "role": "member"})
    assert response.status_code == 400 and "is not a valid e-mail address" in response.content.decode()
    assert mail.outbox == []


def test_the_last_owner_demoting_themselves_in_the_team_page_is_told_why_not(org, owner, owner_client):
    response = owner_client.post(f"/settings/team/{owner.pk}/role/", {"role": "admin"}, follow=True)
    assert "at least one owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_removing_one_of_the_two_approvers_in_the_team_page_is_told_why_not(org, owner, owner_client, make_member):
    approver = make_member(org, "admin")
    organization_preferences_update(actor=Actor.for_membership(owner), refund_approval_threshold=5000)

    response = owner_client.post(f"/settings/team/{approver.pk}/remove/", follow=True)

    assert "Refund approvals are on and need at least 2 members who may approve refunds" in response.content.decode()
    assert Membership.objects.filter(pk=approver.pk).exists()


# API tokens -------------------------------------------------------------------------------------------------
def test_a_new_token_is_shown_once_never_cached_and_listed_by_name_and_prefix(org, owner, owner_client):
    created = owner_client.post("/settings/api-tokens/", {"name": "Accounting export"})

    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    raw = re.search(r'data-testid="token-secret">([^<]+)<', created.content.decode()).group(1)
    token = ApiToken.objects.get(membership=owner)
    assert token.name == "Accounting export" and raw.startswith(token.prefix)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/invoices").status_code == 200
    listed = owner_client.get("/settings/api-tokens/")
    assert "no-store" in listed["Cache-Control"]
    assert "Accounting export" in listed.content.decode() and token.prefix in listed.content.decode()
    assert raw not in listed.content.decode()
    assert AuditEvent.objects.filter(organization=org, action="api_token.created").count() == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "Export\x00", "Export\u202e"])
def test_a_token_without_a_readable_name_is_refused_and_none_is_made(owner, owner_client, name):
    response = owner_client.post("/settings/api-tokens/", {"name": name})
    assert response.status_code == 400
    assert not ApiToken.objects.filter(membership=owner).exists()


def test_a_revoked_token_is_refused_on_the_very_next_request(org, owner, owner_client, api_client):
    client = api_client(owner)
    token = ApiToken.objects.get(membership=owner)
    assert client.get("/api/v1/invoices").status_code == 200

    assert owner_client.post(f"/settings/api-tokens/{token.pk}/revoke/").status_code == 302

    assert client.get("/api/v1/invoices").status_code == 401
    assert AuditEvent.objects.filter(organization=org, action="api_token.revoked").count() == 1


def test_nobody_sees_or_revokes_another_persons_token(org, owner, make_member, api_client):
    theirs_client = api_client(make_member(org, "admin"))
    theirs = ApiToken.objects.exclude(membership=owner).get()
    mine = Client()
    mine.force_login(owner.user)

    assert theirs.prefix not in mine.get("/settings/api-tokens/").content.decode()
    assert mine.post(f"/settings/api-tokens/{theirs.pk}/revoke/").status_code == 404
    assert theirs_client.get("/api/v1/invoices").status_code == 200


# Passwords --------------------------------------------------------------------------------------------------
RESET_LINK = re.compile(r"https?://[^/\s]+(/password-reset/[^\s]+/)")


def test_a_forgotten_password_is_reset_through_an_e_mailed_link_that_works_once(org, owner):
    # Any spelling that signs in as the account finds it.
    response = Client().post("/password-reset/", {"email": " " + owner.user.email.upper()})
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [[owner.user.email]]
    path = RESET_LINK.search(mail.outbox[0].body).group(1)

    browser = Client()
    form = browser.get(path, follow=True)
    set_url = form.redirect_chain[-1][0]
    done = browser.post(set_url, {"new_password1": "a-new-passphrase", "new_password2": "a-new-passphrase"})

    assert done.status_code == 302
    owner.user.refresh_from_db()
    assert owner.user.check_password("a-new-passphrase")
    again = Client().get(path, follow=True)
    assert 'data-testid="reset-link-invalid"' in again.content.decode()
    assert AuditEvent.objects.filter(organization=org, action="user.password_reset").count() == 1


def test_no_reset_e_mail_goes_to_an_unknown_address_or_an_unaccepted_invitation(org, owner, api_client):
    client = api_client(owner)
    client.post(
        "/api/v1/members", data={"email": "grace@example.com", "role": "member"}, content_type="application/json"
    )
    mail.outbox.clear()

    for email in ("nobody@example.com", "grace@example.com"):
        response = Client().post("/password-reset/", {"email": email})
        assert response.status_code == 302  # the same answer either way: it tells nobody who has an account
    assert mail.outbox == []


def test_the_password_change_page_needs_the_old_password_and_keeps_this_session(org, owner):
    browser = Client()
    browser.force_login(owner.user)

    wrong = browser.post(
        "/settings/password/",
        {"old_password": "wrong", "new_password1": "a-new-passphrase", "new_password2": "a-new-passphrase"},
    )
    right = browser.post(
        "/settings/password/",
        {
            "old_password": "correct-horse-battery",
            "new_password1": "a-new-passphrase",
            "new_password2": "a-new-passphrase",
        },
    )

    assert wrong.status_code == 200 and "incorrectly" in wrong.content.decode()
    assert right.status_code == 302
    owner.user.refresh_from_db()
    assert owner.user.check_password("a-new-passphrase")
    assert browser.get("/").status_code == 200
    assert AuditEvent.objects.filter(organization=org, action="user.password_changed").count() == 1


# CSRF -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/settings/team/", {"email": "grace@example.com", "role": "member"}),
        ("/settings/roles/", {"name": "Desk", "permissions": []}),
        ("/settings/api-tokens/", {"name": "Export"}),
        (
            "/settings/password/",
            {"old_password": "correct-horse-battery", "new_password1": "x-y-z-w-v-u", "new_password2": "x-y-z-w-v-u"},
        ),
    ],
)
def test_settings_posts_without_a_csrf_token_are_refused_and_change_nothing(org, owner, path, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)

    assert client.post(path, data).status_code == 403

    assert not CustomRole.objects.filter(organization=org).exists()
    assert not ApiToken.objects.exists() and mail.outbox == []
    owner.user.refresh_from_db()
    assert owner.user.check_password("correct-horse-battery")


def test_settings_manage_alone_reaches_the_team_page(org, make_member):
    client = Client()
    client.force_login(make_member(org, "custom", permissions=[Permission.SETTINGS_MANAGE]).user)
    assert client.get("/settings/team/").status_code == 200
