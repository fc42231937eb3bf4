"""/api/v1/members: invitations by e-mail with a one-time link, role changes, removal, and the last owner."""

import json
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from flexbill.accounts.models import ApiToken, Membership
from flexbill.accounts.permissions import Permission
from flexbill.audit.models import AuditEvent

LINK = re.compile(r"https?://\S+/invitations/(?P<token>[^/\s]+)/")


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def invitation_link(message) -> str:
    return LINK.search(message.body).group(0)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


@pytest.fixture
def owner_client(owner, api_client):
    return api_client(owner)


def test_an_invitation_is_pending_until_accepted_and_e_mails_a_one_time_link(org, owner, owner_client):
    response = post(owner_client, "/api/v1/members", {"email": "Grace@Example.com", "role": "member"})

    assert response.status_code == 201, response.content
    member = response.json()
    assert member["email"] == "grace@example.com" and member["role"] == "member" and member["status"] == "pending"
    assert [m.to for m in mail.outbox] == [["grace@example.com"]]
    assert org.name in mail.outbox[0].subject and invitation_link(mail.outbox[0])
    listed = {m["email"]: m for m in owner_client.get("/api/v1/members").json()}
    assert listed["grace@example.com"]["status"] == "pending"
    assert AuditEvent.objects.filter(organization=org, action="member.invited").count() == 1
    # A pending membership signs nobody in and holds no permission.
    pending = Membership.objects.get(pk=member["id"])
    assert not pending.user.has_usable_password()
    assert not pending.has_permission(Permission.INVOICES_VIEW)


def test_the_invitation_link_sets_a_password_signs_in_and_works_only_once(org, owner_client):
    post(owner_client, "/api/v1/members", {"email": "grace@example.com", "role": "admin"})
    path = path_of(invitation_link(mail.outbox[-1]))
    browser = Client()

    assert browser.get(path).status_code == 200
    weak = browser.post(path, {"password1": "short", "password2": "short"})
    assert weak.status_code == 400 and b"too short" in weak.content
    accepted = browser.post(path, {"password1": "a-long-passphrase", "password2": "a-long-passphrase"})

    assert accepted.status_code == 302
    assert browser.get("/").status_code == 200  # signed in
    member = Membership.objects.get(organization=org, user__username="grace@example.com")
    assert member.is_active and member.user.check_password("a-long-passphrase")
    again = Client().post(path, {"password1": "another-passphrase", "password2": "another-passphrase"})
    assert again.status_code == 400 and b"not valid" in again.content
    member.user.refresh_from_db()
    assert member.user.check_password("a-long-passphrase")
    assert AuditEvent.objects.filter(organization=org, action="member.joined").count() == 1


def test_an_expired_invitation_link_is_refused_and_changes_nothing(org, owner_client, settings):
    settings.FLEXBILL_INVITATION_DAYS = 7
    post(owner_client, "/api/v1/members", {"email": "grace@example.com", "role": "member"})
    path = path_of(invitation_link(mail.outbox[-1]))

    with time_machine.travel(timezone.now() + timezone.timedelta(days=7, minutes=1)):
        response = Client().post(path, {"password1": "a-long-passphrase", "password2": "a-long-passphrase"})

    assert response.status_code == 400 and b"expired" in response.content
    member = Membership.objects.get(organization=org, user__username="grace@example.com")
    assert member.status == "pending" and not member.user.has_usable_password()


@pytest.mark.parametrize("tampered", ["x", "a" * 5000, "eyJtIjoxLCJuIjoiYSJ9:1abc:def", "%00", "..%2f..%2f"])
def test_a_forged_or_malformed_invitation_link_is_a_400_page(tampered):
    response = Client().get(f"/invitations/{tampered}/")
    assert response.status_code in (400, 404)


def test_inviting_a_pending_e_mail_again_sends_a_new_link_and_the_old_one_stops_working(org, owner_client):
    post(owner_client, "/api/v1/members", {"email": "grace@example.com", "role": "member"})
    first = path_of(invitation_link(mail.outbox[-1]))
    # Another spelling of the same address (full-width letters, capitals, spaces) is the same person.
    again = post(owner_client, "/api/v1/members", {"email": " ＧＲＡＣＥ@Example.COM ", "role": "admin"})

    assert again.status_code == 201 and again.json()["role"] == "admin"
    assert Membership.objects.filter(organization=org, user__username="grace@example.com").count() == 1
    second = path_of(invitation_link(mail.outbox[-1]))
    assert second != first
    old = Client().post(first, {"password1": "a-long-passphrase", "password2": "a-long-passphrase"})
    assert old.status_code == 400
    new = Client().post(second, {"password1": "a-long-passphrase", "password2": "a-long-passphrase"})
    assert new.status_code == 302


def test_inviting_someone_already_a_member_is_a_409(org, owner, make_member, owner_client):
    member = make_member(org, "member")
    response = post(owner_client, "/api/v1/members", {"email": member.user.email.upper(), "role": "admin"})
    assert response.status_code == 409 and response.json()["code"] == "already_member"
    assert mail.outbox == []


def test_an_existing_account_joins_by_signing_in_with_its_own_password(make_org, make_member, owner_client, org):
    elsewhere = make_member(make_org(), "owner")
    post(owner_client, "/api/v1/members", {"email": elsewhere.user.email, "role": "member"})
    path = path_of(invitation_link(mail.outbox[-1]))

    wrong = Client().post(path, {"password": "not-the-password"})
    assert wrong.status_code == 400
    assert Membership.objects.get(organization=org, user=elsewhere.user).status == "pending"
    # The link cannot be used to set someone else's password.
    assert Client().post(path, {"password1": "hijacked-password", "password2": "hijacked-password"}).status_code == 400
    joined = Client().post(path, {"password": "correct-horse-battery"})
    assert joined.status_code == 302
    assert Membership.objects.get(organization=org, user=elsewhere.user).status == "active"


@pytest.mark.parametrize(
    "email", ["", "not-an-address", "a@", "@example.com", "x" * 250 + "@example.com", "a b@example.com", "a@b@c.com"]
)
def test_an_invitation_to_something_that_is_not_an_e_mail_is_a_400(owner_client, email):
    response = post(owner_client, "/api/v1/members", {"email": email, "role": "member"})
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"detail", "code"} and mail.outbox == []


@pytest.mark.parametrize("role", ["superuser", "custom:Nope", "custom", "OWNER", "custom:"])
def test_an_invitation_with_an_unknown_role_is_a_400(owner_client, role):
    response = post(owner_client, "/api/v1/members", {"email": "grace@example.com", "role": role})
    assert response.status_code == 400 and mail.outbox == []


def test_nobody_invites_with_a_role_holding_a_permission_they_lack(org, make_member, api_client):
    settings_only = make_member(org, "custom", permissions=[Permission.SETTINGS_MANAGE])
    clerk_role = make_member(org, "clerk").custom_role
    admin = make_member(org, "admin")

    as_clerk = post(
        api_client(settings_only), "/api/v1/members", {"email": "a@example.com", "role": f"custom:{clerk_role.name}"}
    )
    as_admin = post(api_client(settings_only), "/api/v1/members", {"email": "b@example.com", "role": "admin"})
    owner_by_admin = post(api_client(admin), "/api/v1/members", {"email": "c@example.com", "role": "owner"})
    member_by_limited = post(api_client(settings_only), "/api/v1/members", {"email": "d@example.com", "role": "member"})

    assert (as_clerk.status_code, as_admin.status_code, owner_by_admin.status_code) == (403, 403, 403)
    assert "Billing › Charges › Refund charge" in as_clerk.json()["detail"]
    assert member_by_limited.status_code == 201
    assert [m.to for m in mail.outbox] == [["d@example.com"]]


def test_nobody_promotes_themselves_beyond_what_they_hold(org, make_member, api_client):
    admin = make_member(org, "admin")
    limited = make_member(org, "custom", permissions=[Permission.SETTINGS_MANAGE])

    to_owner = patch(api_client(admin), f"/api/v1/members/{admin.pk}", {"role": "owner"})
    to_admin = patch(api_client(limited), f"/api/v1/members/{limited.pk}", {"role": "admin"})

    assert (to_owner.status_code, to_admin.status_code) == (403, 403)
    admin.refresh_from_db()
    limited.refresh_from_db()
    assert (admin.role, limited.role) == ("admin", "custom")


def test_an_admin_cannot_demote_or_remove_an_owner(org, owner, make_member, api_client):
    client = api_client(make_member(org, "admin"))
    assert patch(client, f"/api/v1/members/{owner.pk}", {"role": "member"}).status_code == 403
    assert client.delete(f"/api/v1/members/{owner.pk}").status_code == 403
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_the_last_owner_can_neither_be_demoted_nor_removed(org, owner, owner_client, make_member):
    demoted = patch(owner_client, f"/api/v1/members/{owner.pk}", {"role": "admin"})
    removed = owner_client.delete(f"/api/v1/members/{owner.pk}")

    assert demoted.status_code == 409 and demoted.json()["code"] == "last_owner"
    assert removed.status_code == 409 and removed.json()["code"] == "last_owner"
    # A second owner who is only invited does not count: they may never accept.
    post(owner_client, "/api/v1/members", {"email": "grace@example.com", "role": "owner"})
    assert patch(owner_client, f"/api/v1/members/{owner.pk}", {"role": "admin"}).status_code == 409
    second = make_member(org, "owner")
    assert patch(owner_client, f"/api/v1/members/{owner.pk}", {"role": "admin"}).status_code == 200
    assert Membership.objects.filter(organization=org, role="owner", status="active").get() == second


def test_a_role_change_is_audited_and_applies_to_the_next_request(org, owner_client, make_member, api_client):
    clerk = make_member(org, "clerk")
    clerk_client = api_client(clerk)
    assert patch(owner_client, f"/api/v1/members/{clerk.pk}", {"role": "member"}).json()["role"] == "member"
    refused = clerk_client.post("/api/v1/charges/999/refunds", data="{}", content_type="application/json")
    assert refused.status_code in (403, 404)
    event = AuditEvent.objects.get(organization=org, action="member.role_changed")
    assert event.before["role"].startswith("custom:") and event.after["role"] == "member"


def test_a_removed_members_api_token_is_refused_on_the_very_next_request(org, owner_client, make_member, api_client):
    member = make_member(org, "admin")
    client = api_client(member)
    assert client.get("/api/v1/invoices").status_code == 200

    assert owner_client.delete(f"/api/v1/members/{member.pk}").status_code == 204

    assert client.get("/api/v1/invoices").status_code == 401
    assert not ApiToken.objects.filter(membership_id=member.pk).exists()
    assert AuditEvent.objects.filter(organization=org, action="member.removed").count() == 1


def test_a_removed_members_web_sessions_end_at_once(org, owner_client, make_member):
    member = make_member(org, "admin")
    browser = Client()
    browser.force_login(member.user)
    assert browser.get("/").status_code == 200

    owner_client.delete(f"/api/v1/members/{member.pk}")

    response = browser.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_another_organizations_member_is_not_found_and_unchanged(make_org, make_member, owner_client):
    theirs = make_member(make_org(), "admin")
    assert patch(owner_client, f"/api/v1/members/{theirs.pk}", {"role": "member"}).status_code == 404
    assert owner_client.delete(f"/api/v1/members/{theirs.pk}").status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == "admin"


def test_a_member_without_the_settings_permission_cannot_read_the_team(org, make_member, api_client):
    client = api_client(make_member(org, "clerk"))
    assert client.get("/api/v1/members").status_code == 403
    assert client.get("/api/v1/roles").status_code == 403


def test_when_the_invitation_e_mail_cannot_be_sent_nothing_is_kept(org, owner_client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2

    response = post(owner_client, "/api/v1/members", {"email": "grace@example.com", "role": "member"})

    assert response.status_code == 502 and response.json()["code"] == "email_failed"
    assert not Membership.objects.filter(organization=org, user__username="grace@example.com").exists()


def test_the_invitation_link_works_for_flexbill_invitation_days_and_not_a_minute_more(org, owner_client, settings):
    settings.FLEXBILL_INVITATION_DAYS = 2
    post(owner_client, "/api/v1/members", {"email": "grace@example.com", "role": "member"})
    path = path_of(invitation_link(mail.outbox[-1]))
    now = timezone.now()

    with time_machine.travel(now + timezone.timedelta(days=2, minutes=1)):
        assert Client().get(path).status_code == 400
    with time_machine.travel(now + timezone.timedelta(days=1, hours=23)):
        assert Client().get(path).status_code == 200
    assert "2 days" in mail.outbox[-1].body
