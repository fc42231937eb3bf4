"""Settings pages: Organization (settings.manage) and Stripe (settings.manage may look, only an owner changes the
keys). Secrets are write-only: never rendered, not even back into a refused form. CSRF on every POST."""

import re

import pytest
from django.test import Client

from flexbill.accounts.models import Organization
from flexbill.accounts.permissions import Permission
from flexbill.audit.models import AuditEvent
from flexbill.billing.models import WebhookEvent
from web_calls import signed_in

pytestmark = pytest.mark.django_db

CURRENT_KEY = "sk_test_CurrentSecretKey9876"
CURRENT_SECRET = "whsec_CurrentSigningSecret5555"
NEW_KEY = "sk_test_PastedInTheBrowser42"
REFUSED_KEY = "rk_live_StripeSaysNoToThis77"
NEW_SECRET = "whsec_PastedSigningSecret0042"
SETTINGS_POSTS = [
    ("/settings/organization/", {"name": "Mine", "default_currency": "eur", "locale": "de_DE"}),
    ("/settings/stripe/secret-key/", {"secret_key": NEW_KEY}),
    ("/settings/stripe/webhook-secret/", {"webhook_secret": NEW_SECRET}),
    ("/settings/stripe/test-event/", {}),
]


@pytest.fixture(autouse=True)
def _live_keys_without_local_stripe_workarounds(_stripe_api_base, settings):
    """These tests connect live keys, which flexbill uses with no local-Stripe workaround; the one call a key is
    checked with (listing one refund) needs none."""
    settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = False


@pytest.fixture
def org(make_org):
    return make_org(stripe_secret_key=CURRENT_KEY, stripe_webhook_secret=CURRENT_SECRET)


def state(org) -> tuple:
    fresh = Organization.objects.get(pk=org.pk)
    return (
        fresh.name,
        fresh.default_currency,
        fresh.locale,
        fresh.refund_emails_enabled,
        fresh.refund_sync_enabled,
        fresh.stripe_secret_key,
        fresh.stripe_webhook_secret,
        AuditEvent.objects.filter(organization=fresh).count(),
        WebhookEvent.objects.count(),
    )


def assert_no_secret(response):
    html = response.content.decode()
    for secret in (CURRENT_KEY, CURRENT_SECRET, NEW_KEY, REFUSED_KEY, NEW_SECRET):
        assert secret not in html and secret[8:] not in html


@pytest.mark.parametrize("role", ["member", "clerk", "custom"])
def test_without_settings_manage_every_settings_page_is_a_403_and_changes_nothing(org, make_member, role):
    client = signed_in(make_member(org, role))
    before = state(org)
    for path in ("/settings/organization/", "/settings/stripe/"):
        assert client.get(path).status_code == 403
    for path, data in SETTINGS_POSTS:
        assert client.post(path, data).status_code == 403
    assert state(org) == before
    landing = client.get("/settings/").content  # everyone's: API tokens and password
    assert b'href="/settings/stripe/"' not in landing and b'href="/settings/organization/"' not in landing


def test_signed_out_visitors_are_sent_to_sign_in(org):
    before = state(org)
    for path, data in [("/settings/stripe/", None), *SETTINGS_POSTS]:
        response = Client().post(path, data) if data is not None else Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert state(org) == before


@pytest.mark.parametrize("role", ["admin", "settings_manager"])
def test_settings_managers_see_the_stripe_page_but_only_an_owner_changes_the_keys(org, make_member, role):
    if role == "settings_manager":
        membership = make_member(org, "custom", permissions=[Permission.SETTINGS_MANAGE])
    else:
        membership = make_member(org, role)
    client = signed_in(membership)
    before = state(org)

    assert b'href="/settings/stripe/"' in client.get("/settings/").content
    page = client.get("/settings/stripe/")
    assert page.status_code == 200
    assert b"Only an owner can enter or replace the keys." in page.content
    assert b'name="secret_key"' not in page.content and b'name="webhook_secret"' not in page.content
    for path, data in SETTINGS_POSTS[1:]:
        assert client.post(path, data).status_code == 403
    assert state(org) == before
    assert_no_secret(page)


def test_the_stripe_page_shows_state_mode_url_and_events_and_never_a_secret(org, owner):
    page = signed_in(owner).get("/settings/stripe/")

    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert "Connected · test mode" in html
    assert "ending …9876" in html and "ending …5555" in html
    assert f"http://testserver/webhooks/stripe/{org.slug}/" in html
    for event in ("charge.refunded", "charge.refund.updated", "refund.created", "refund.updated", "refund.failed"):
        assert f"<code>{event}</code>" in html
    for name in ("secret_key", "webhook_secret"):
        field = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)[0]
        assert 'type="password"' in field and 'autocomplete="off"' in field and "value=" not in field
    assert_no_secret(page)


def test_an_owner_connects_stripe_from_the_page_and_the_key_is_not_shown_back(make_org, make_member):
    bare = make_org(stripe_secret_key="", stripe_webhook_secret="")
    client = signed_in(make_member(bare, "owner"))
    assert "Not connected" in client.get("/settings/stripe/").content.decode()

    saved = client.post("/settings/stripe/secret-key/", {"secret_key": NEW_KEY}, follow=True)

    assert saved.status_code == 200
    html = saved.content.decode()
    assert "Stripe accepted the secret key" in html and "Connected · test mode" in html
    assert Organization.objects.get(pk=bare.pk).stripe_secret_key == NEW_KEY
    assert_no_secret(saved)


def test_a_key_stripe_refuses_is_shown_next_to_the_field_and_nothing_is_saved(org, owner):
    before = state(org)
    response = signed_in(owner).post("/settings/stripe/secret-key/", {"secret_key": REFUSED_KEY})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'class="field has-error".*Stripe refused this key', html, re.S)
    assert state(org) == before
    assert_no_secret(response)


def test_stripe_unreachable_is_a_clear_error_on_the_page_and_nothing_is_saved(org, owner, settings):
    settings.FLEXBILL_STRIPE_API_BASE = "http://127.0.0.1:9"
    before = state(org)
    response = signed_in(owner).post("/settings/stripe/secret-key/", {"secret_key": NEW_KEY})
    assert response.status_code == 502
    assert "Stripe could not be reached" in response.content.decode()
    assert state(org) == before
    assert_no_secret(response)


@pytest.mark.parametrize(
    ("path", "data", "says"),
    [
        ("/settings/stripe/secret-key/", {"secret_key": "pk_test_Publishable0123"}, "not a Stripe secret key"),
        ("/settings/stripe/secret-key/", {"secret_key": ""}, "This field is required"),
        ("/settings/stripe/secret-key/", {"secret_key": "sk_test_" + "a" * 2000}, "at most 1000"),
        ("/settings/stripe/webhook-secret/", {"webhook_secret": NEW_KEY}, "not a webhook signing secret"),
        ("/settings/stripe/webhook-secret/", {"webhook_secret": "  \n "}, "Paste the value"),
    ],
)
def test_malformed_secrets_are_refused_next_to_the_field_and_nothing_is_saved(org, owner, path, data, says):
    before = state(org)
    response = signed_in(owner).post(path, data)
    assert response.status_code == 400
    assert says in response.content.decode()
    assert state(org) == before
    assert_no_secret(response)


def test_the_test_event_is_reported_verified_and_shows_in_the_status_line(
    org, owner, django_capture_on_commit_callbacks
):
    client = signed_in(owner)
    with django_capture_on_commit_callbacks(execute=True):  # the worker takes the stored event in: it ignores a ping
        client.post("/settings/stripe/test-event/")
    html = client.get("/settings/stripe/").content.decode()
    assert "verified with the signing secret and stored" in html
    assert "Last event received: <code>ping</code>" in html and "1 verified, 1 processed" in html


def test_the_test_event_without_a_signing_secret_says_what_to_do(make_org, make_member):
    bare = make_org(stripe_webhook_secret="")
    response = signed_in(make_member(bare, "owner")).post("/settings/stripe/test-event/", follow=True)
    assert "Enter the webhook signing secret first." in response.content.decode()
    assert not WebhookEvent.objects.exists()


def test_preferences_are_saved_from_the_form_and_audited(org, make_member):
    admin = make_member(org, "admin")
    response = signed_in(admin).post(
        "/settings/organization/", {"name": "Harbour", "default_currency": "eur", "locale": "de-de"}, follow=True
    )
    assert "Preferences saved." in response.content.decode()
    fresh = Organization.objects.get(pk=org.pk)
    assert (fresh.name, fresh.default_currency, fresh.locale, fresh.refund_emails_enabled) == (
        "Harbour",
        "eur",
        "de_DE",
        False,  # the unticked box
    )
    assert AuditEvent.objects.filter(organization=org, action="organization.preferences_changed").count() == 1


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"name": "Harbour", "default_currency": "eur", "locale": "xx_YY"}, "Unknown locale"),
        ({"name": "Harbour", "default_currency": "xau", "locale": "de_DE"}, "Select a valid choice"),
        ({"name": "Two\nlines", "default_currency": "eur", "locale": "de_DE"}, "one line"),
        ({"name": "", "default_currency": "eur", "locale": "de_DE"}, "This field is required"),
    ],
)
def test_bad_preferences_are_refused_next_to_the_field_and_change_nothing(org, owner, data, says):
    before = state(org)
    response = signed_in(owner).post("/settings/organization/", data)
    assert response.status_code == 200 and says in response.content.decode()
    assert 'class="field has-error"' in response.content.decode()
    assert state(org) == before


def test_refund_sync_is_not_editable_in_the_preferences(org, owner):
    client = signed_in(owner)
    assert b"refund_sync_enabled" not in client.get("/settings/organization/").content
    client.post(
        "/settings/organization/",
        {"name": org.name, "default_currency": "usd", "locale": "en_US", "refund_sync_enabled": ""},
    )
    assert Organization.objects.get(pk=org.pk).refund_sync_enabled is True


@pytest.mark.parametrize(("path", "data"), SETTINGS_POSTS)
def test_settings_posts_without_a_csrf_token_are_refused_and_change_nothing(org, owner, path, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    before = state(org)
    assert client.post(path, data).status_code == 403
    assert state(org) == before


# Money shown in the organization's locale --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("currency", "locale", "shown"), [("usd", "en_US", "$1,234.50"), ("eur", "de_DE", "1.234,50\xa0€")]
)
def test_amounts_on_the_invoice_list_and_page_are_written_in_the_organizations_locale(
    make_org, make_member, make_customer, make_invoice, currency, locale, shown
):
    organization = make_org(currency=currency, locale=locale)
    customer, _ = make_customer(organization)
    invoice = make_invoice(organization, customer, total=123450)
    client = signed_in(make_member(organization, "member"))

    listed = client.get("/").content.decode()
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()

    assert shown in listed and shown in page
    other = "1.234,50" if locale == "en_US" else "1,234.50"
    assert other not in listed and other not in page


def test_changing_the_locale_changes_how_every_amount_is_shown(org, owner, make_customer, make_invoice):
    customer, _ = make_customer(org)
    invoice = make_invoice(org, customer, total=123450, currency="eur")
    client = signed_in(owner)
    assert "€1,234.50" in client.get(f"/invoices/{invoice.pk}/").content.decode()

    client.post("/settings/organization/", {"name": org.name, "default_currency": "usd", "locale": "fr_FR"})

    assert "1\u202f234,50\xa0€" in client.get(f"/invoices/{invoice.pk}/").content.decode()
