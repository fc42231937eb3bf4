"""API callers are kept per process once their token is read (accounts/api_callers.py); every change of who may do
what still counts from the caller's very next request, made through the API, the UI's services or Django admin."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flexbill.accounts.models import ApiToken, CustomRole
from flexbill.accounts.permissions import Permission
from flexbill.accounts.services import api_token_create
from flexbill.accounts.tokens import api_token_revoke
from flexbill.audit.services import Actor


def patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def admin_and_client(org, make_member, api_client):
    admin = make_member(org, "admin")
    client = api_client(admin)
    assert client.get("/api/v1/members").status_code == 200  # the caller is now cached
    return admin, client


def test_a_cached_caller_costs_one_primary_key_read_not_the_token_join(org, owner, api_client):
    client = api_client(owner)
    assert client.get("/api/v1/invoices").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/invoices").status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert not any("accounts_apitoken" in s for s in sql), sql
    assert sum("accounts_organization" in s for s in sql) == 1, sql


def test_a_revoked_token_is_refused_on_the_next_request(owner, api_client):
    raw = api_token_create(membership=owner)
    client = api_client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    assert client.get("/api/v1/invoices").status_code == 200
    api_token_revoke(actor=Actor.for_membership(owner), token=ApiToken.objects.get(membership=owner))
    assert client.get("/api/v1/invoices").status_code == 401


def test_a_member_moved_to_a_lesser_role_loses_its_permissions_on_the_next_request(owner, api_client, admin_and_client):
    admin, client = admin_and_client
    assert patch(api_client(owner), f"/api/v1/members/{admin.pk}", {"role": "member"}).status_code == 200
    assert client.get("/api/v1/members").status_code == 403


def test_a_removed_member_is_refused_on_the_next_request(owner, api_client, admin_and_client):
    admin, client = admin_and_client
    assert api_client(owner).delete(f"/api/v1/members/{admin.pk}").status_code == 204
    assert client.get("/api/v1/invoices").status_code == 401


def test_a_permission_taken_out_of_a_custom_role_counts_on_the_next_request(org, owner, make_member, api_client):
    clerk = make_member(org, "custom", permissions=[Permission.SETTINGS_MANAGE])
    client = api_client(clerk)
    assert client.get("/api/v1/members").status_code == 200
    role = CustomRole.objects.get(pk=clerk.custom_role_id)
    assert patch(api_client(owner), f"/api/v1/roles/{role.pk}", {"permissions": []}).status_code == 200
    assert client.get("/api/v1/members").status_code == 403


def test_a_deactivated_user_is_refused_on_the_next_request(admin_and_client):
    admin, client = admin_and_client
    get_user_model().objects.filter(pk=admin.user_id).update(is_active=False)
    assert client.get("/api/v1/invoices").status_code == 401


def test_a_role_changed_in_django_admin_counts_on_the_next_request(org, admin_and_client, admin_client_platform):
    admin, client = admin_and_client
    response = admin_client_platform.post(
        f"/platform/accounts/membership/{admin.pk}/change/",
        {"user": admin.user_id, "organization": org.pk, "role": "member", "custom_role": "", "status": "active"},
    )
    assert response.status_code == 302, response.content[:500]
    assert client.get("/api/v1/members").status_code == 403


def test_an_organization_setting_changed_by_someone_else_shows_on_the_next_request(owner, api_client):
    reader, writer = api_client(owner), api_client(owner)
    assert reader.get("/api/v1/organization").json()["locale"] == "en_US"
    assert patch(writer, "/api/v1/organization", {"locale": "de_DE"}).status_code == 200
    assert reader.get("/api/v1/organization").json()["locale"] == "de_DE"


@pytest.fixture
def admin_client_platform(db, client):
    staff = get_user_model().objects.create_superuser("staff@example.com", "staff@example.com", "correct-horse-1")
    client.force_login(staff)
    return client


def test_each_request_gets_its_own_copy_of_the_cached_organization(org, owner, api_client):
    client = api_client(owner)
    first, second = (client.get("/api/v1/invoices").wsgi_request for _ in range(2))

    assert first.api_organization == second.api_organization == org
    assert first.api_organization is not second.api_organization  # what one request loads or changes stays its own
