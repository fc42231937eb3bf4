"""GET/PATCH /api/v1/organization and PUT /api/v1/organization/stripe: preferences need settings.manage, the Stripe
connection an owner; secrets go in and never come out; every change is audited without them; refusals are the
usual JSON errors and change nothing."""

import json

import pytest

from flexbill.accounts.models import Organization
from flexbill.accounts.permissions import Permission
from flexbill.audit.models import AuditEvent
from flexbill.billing.models import WebhookEvent

pytestmark = pytest.mark.django_db

NEW_KEY = "sk_live_ApiConnectionKey0123"
REFUSED_KEY = "rk_test_NotAcceptedLocally89"
NEW_SECRET = "whsec_ApiSigningSecret0123456789"
CURRENT_KEY = "sk_test_CurrentSecretKey9876"
CURRENT_SECRET = "whsec_CurrentSigningSecret5555"


@pytest.fixture(autouse=True)
def _live_keys_without_local_stripe_workarounds(_stripe_api_base, settings):
    """These tests connect live keys, which flexbill uses with no local-Stripe workaround; the one call a key is
    checked with (listing one refund) needs none."""
    settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = False


@pytest.fixture
def org(make_org):
    return make_org(stripe_secret_key=CURRENT_KEY, stripe_webhook_secret=CURRENT_SECRET)


def send(client, method: str, url: str, body=None):
    return getattr(client, method)(url, data=json.dumps(body or {}), content_type="application/json")


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code"}
    if code:
        assert body["code"] == code, body


def state(org) -> dict:
    fresh = Organization.objects.get(pk=org.pk)
    return {
        "name": fresh.name,
        "currency": fresh.default_currency,
        "locale": fresh.locale,
        "emails": fresh.refund_emails_enabled,
        "sync": fresh.refund_sync_enabled,
        "key": fresh.stripe_secret_key,
        "secret": fresh.stripe_webhook_secret,
        "audit": AuditEvent.objects.filter(organization=fresh).count(),
    }


def assert_no_secret(response):
    text = response.content.decode()
    for secret in (NEW_KEY, REFUSED_KEY, NEW_SECRET, CURRENT_KEY, CURRENT_SECRET):
        assert secret not in text
        assert secret[8:] not in text  # not even without its prefix


@pytest.mark.parametrize("role", ["owner", "admin", "member", "clerk"])
def test_every_member_reads_the_organization_and_its_connection_but_no_secret(org, make_member, api_client, role):
    WebhookEvent.objects.create(organization=org, org_slug=org.slug, body="{}", verified=True, event_type="ping")

    response = api_client(make_member(org, role)).get("/api/v1/organization")

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    body = response.json()
    assert {k: body[k] for k in ("slug", "default_currency", "locale", "refund_emails_enabled")} == {
        "slug": org.slug,
        "default_currency": "usd",
        "locale": "en_US",
        "refund_emails_enabled": True,
    }
    stripe = body["stripe"]
    assert (stripe["connected"], stripe["mode"], stripe["secret_key_last4"]) == (True, "test", "9876")
    assert stripe["webhook_url"] == f"http://testserver/webhooks/stripe/{org.slug}/"
    assert stripe["events"] == sorted(
        ["charge.refunded", "charge.refund.updated", "refund.created", "refund.updated", "refund.failed"]
    )
    assert stripe["last_event_type"] == "ping" and stripe["last_event_at"]
    assert_no_secret(response)


def test_the_webhook_url_follows_flexbill_public_url_when_set(org, owner, api_client, settings):
    settings.FLEXBILL_PUBLIC_URL = "https://billing.example.com"
    body = api_client(owner).get("/api/v1/organization").json()
    assert body["stripe"]["webhook_url"] == f"https://billing.example.com/webhooks/stripe/{org.slug}/"


def test_an_organization_without_stripe_reads_as_not_connected(make_org, make_member, api_client):
    bare = make_org(stripe_secret_key="", stripe_webhook_secret="")
    stripe = api_client(make_member(bare, "owner")).get("/api/v1/organization").json()["stripe"]
    assert (stripe["connected"], stripe["mode"], stripe["webhook_secret_set"]) == (False, None, False)


@pytest.mark.parametrize("role", ["owner", "admin", "settings_manager"])
def test_holders_of_settings_manage_change_the_preferences_and_it_is_audited(org, make_member, api_client, role):
    if role == "settings_manager":
        membership = make_member(org, "custom", permissions=[Permission.SETTINGS_MANAGE])
    else:
        membership = make_member(org, role)
    changes = {
        "name": "Harbour Coworking",
        "default_currency": "EUR",
        "locale": "de-DE",
        "refund_emails_enabled": False,
    }

    response = send(api_client(membership), "patch", "/api/v1/organization", changes)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["default_currency"], body["locale"], body["refund_emails_enabled"]) == (
        "Harbour Coworking",
        "eur",
        "de_DE",
        False,
    )
    event = AuditEvent.objects.get(organization=org, action="organization.preferences_changed")
    assert event.actor_user == membership.user
    assert event.after == {"name": "Harbour Coworking", "default_currency": "eur", "locale": "de_DE",
                           "refund_emails_enabled": False}  # fmt: skip
    assert event.before["default_currency"] == "usd" and event.before["locale"] == "en_US"


def test_patching_only_one_preference_leaves_the_others(org, owner, api_client):
    before = state(org)
    response = send(api_client(owner), "patch", "/api/v1/organization", {"locale": "fr_FR"})
    assert response.status_code == 200
    assert state(org) == {**before, "locale": "fr_FR", "audit": before["audit"] + 1}


def test_patching_nothing_new_changes_and_audits_nothing(org, owner, api_client):
    before = state(org)
    assert send(api_client(owner), "patch", "/api/v1/organization", {"locale": "en_US"}).status_code == 200
    assert state(org) == before


@pytest.mark.parametrize("role", ["member", "clerk", "custom"])
def test_without_settings_manage_patching_the_organization_is_a_403_and_changes_nothing(
    org, make_member, api_client, role
):
    client = api_client(make_member(org, role))
    before = state(org)
    response = send(client, "patch", "/api/v1/organization", {"name": "Mine now"})
    assert_error(response, 403, "permission_denied")
    assert state(org) == before


def test_without_a_token_the_organization_endpoints_are_a_401(org, api_client):
    before = state(org)
    anonymous = api_client()
    assert_error(anonymous.get("/api/v1/organization"), 401, "unauthenticated")
    assert_error(send(anonymous, "patch", "/api/v1/organization", {"name": "X"}), 401, "unauthenticated")
    assert_error(send(anonymous, "put", "/api/v1/organization/stripe", {"secret_key": NEW_KEY}), 401)
    assert state(org) == before


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"default_currency": "xau"}, "currency_invalid", "not a currency Stripe charges"),
        ({"default_currency": 978}, "invalid", "default_currency"),
        ({"locale": "xx_YY"}, "locale_invalid", "Unknown locale"),
        ({"locale": "und"}, "locale_invalid", "Unknown locale"),
        ({"name": "   "}, "name_invalid", "needs a name"),
        ({"name": "Line\nbreak"}, "name_invalid", "one line"),
        ({"name": "x" * 201}, "name_invalid", "too long"),
        ({"refund_emails_enabled": "no"}, "invalid", "refund_emails_enabled"),
        ({"refund_sync_enabled": False}, "invalid", "platform staff only"),
        ({"stripe_secret_key": NEW_KEY}, "invalid", "stripe_secret_key"),
        ({"slug": "taken"}, "invalid", "slug"),
    ],
)
def test_bad_preferences_are_a_400_naming_the_problem_and_change_nothing(org, owner, api_client, body, code, says):
    before = state(org)
    response = send(api_client(owner), "patch", "/api/v1/organization", body)
    assert_error(response, 400, code)
    assert says in response.json()["detail"]
    assert state(org) == before
    assert_no_secret(response)


def test_an_owner_connects_stripe_and_the_answer_holds_no_secret(org, owner, api_client):
    response = send(
        api_client(owner), "put", "/api/v1/organization/stripe", {"secret_key": NEW_KEY, "webhook_secret": NEW_SECRET}
    )

    assert response.status_code == 200, response.content
    stripe = response.json()["stripe"]
    assert (stripe["connected"], stripe["mode"], stripe["secret_key_last4"], stripe["webhook_secret_set"]) == (
        True,
        "live",
        "0123",
        True,
    )
    assert_no_secret(response)
    after = state(org)
    assert (after["key"], after["secret"]) == (NEW_KEY, NEW_SECRET)
    events = AuditEvent.objects.filter(organization=org).order_by("pk")
    assert [e.action for e in events] == ["stripe.secret_key_changed", "stripe.webhook_secret_changed"]
    recorded = json.dumps([[e.before, e.after, e.message] for e in events])
    assert all(s not in recorded for s in (NEW_KEY, NEW_SECRET, CURRENT_KEY, CURRENT_SECRET))
    assert "live mode, ending 0123" in events[0].message


@pytest.mark.parametrize("role", ["admin", "settings_manager", "member", "clerk"])
def test_only_an_owner_may_put_the_stripe_connection(org, make_member, api_client, role):
    if role == "settings_manager":
        membership = make_member(org, "custom", permissions=[Permission.SETTINGS_MANAGE])
    else:
        membership = make_member(org, role)
    before = state(org)
    response = send(api_client(membership), "put", "/api/v1/organization/stripe", {"webhook_secret": NEW_SECRET})
    assert_error(response, 403, "permission_denied")
    assert state(org) == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"secret_key": REFUSED_KEY}, 400, "secret_key_refused"),
        ({"secret_key": REFUSED_KEY, "webhook_secret": NEW_SECRET}, 400, "secret_key_refused"),
        ({"secret_key": "pk_live_Publishable012345"}, 400, "secret_key_invalid"),
        ({"webhook_secret": "secret"}, 400, "webhook_secret_invalid"),
        ({"secret_key": NEW_KEY, "webhook_secret": "secret"}, 400, "webhook_secret_invalid"),
        ({"secret_key": ""}, 400, "secret_missing"),
        ({"secret_key": 123}, 400, "invalid"),
        ({}, 400, "nothing_to_change"),
        ({"publishable_key": "pk_test_x"}, 400, "invalid"),
    ],
)
def test_a_refused_or_malformed_stripe_connection_changes_nothing(org, owner, api_client, body, status, code):
    before = state(org)
    response = send(api_client(owner), "put", "/api/v1/organization/stripe", body)
    assert_error(response, status, code)
    assert state(org) == before
    assert_no_secret(response)


def test_stripe_unreachable_is_a_502_and_changes_nothing(org, owner, api_client, settings):
    settings.FLEXBILL_STRIPE_API_BASE = "http://127.0.0.1:9"
    before = state(org)
    response = send(api_client(owner), "put", "/api/v1/organization/stripe", {"secret_key": NEW_KEY})
    assert_error(response, 502, "stripe_unreachable")
    assert state(org) == before


def test_another_organization_is_neither_seen_nor_changed(org, make_org, make_member, api_client):
    other = make_org()
    other_owner = make_member(other, "owner")
    before = state(org)
    client = api_client(other_owner)

    assert client.get("/api/v1/organization").json()["slug"] == other.slug
    send(client, "patch", "/api/v1/organization", {"name": "Renamed"})
    send(client, "put", "/api/v1/organization/stripe", {"secret_key": NEW_KEY, "webhook_secret": NEW_SECRET})

    assert state(org) == before
    assert Organization.objects.get(pk=other.pk).name == "Renamed"
