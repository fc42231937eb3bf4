"""Security properties: CSRF on UI posts, secrets never shown or logged, API tokens stored hashed, security headers,
the deploy checklist, and cross-organization probes that tests/api/test_tenancy_api.py does not cover."""

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from flexbill.accounts.models import ApiToken
from flexbill.accounts.services import api_token_create
from flexbill.audit.services import Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, CreditNote, Refund
from flexbill_demo.stripe_dashboard import stripe_refund_directly
from stripe_events import charge_event, deliver, post_raw


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner.user)
    return client


def charge_state(charge) -> tuple:
    charge = Charge.objects.get(pk=charge.pk)
    return (charge.status, charge.amount_refunded, charge.amount_reserved, charge.marked_refunded_at)


@pytest.mark.parametrize(
    "path, data",
    [
        ("/charges/{charge}/refund/", {"amount": "5.00", "reason": "requested_by_customer"}),
        ("/charges/{charge}/mark-refunded/status/", {}),
        ("/charges/{charge}/mark-refunded/delete/", {}),
        ("/invoices/{invoice}/credit-notes/", {"credit_note-amount": "5.00", "credit_note-reason": "Goodwill"}),
    ],
)
def test_ui_posts_without_a_csrf_token_are_refused_and_change_nothing(owner, paid_charge, path, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    before = charge_state(paid_charge)
    response = client.post(path.format(charge=paid_charge.pk, invoice=paid_charge.invoice_id), data=data)
    assert response.status_code == 403
    assert charge_state(paid_charge) == before
    assert not Refund.objects.filter(charge=paid_charge).exists()
    assert not CreditNote.objects.filter(invoice_id=paid_charge.invoice_id).exists()


def test_webhook_secrets_and_stripe_keys_never_appear_in_answers_pages_or_logs(
    org, owner, owner_client, api_client, paid_charge, caplog
):
    caplog.set_level(logging.DEBUG)
    secrets = [org.stripe_secret_key, org.stripe_webhook_secret]
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=1000, note="partial")
    api = api_client(owner)
    created = api.post(
        "/api/v1/webhook-endpoints",
        data=json.dumps({"url": "https://hooks.example.com/x"}),
        content_type="application/json",
    )
    assert created.status_code == 201
    endpoint_secret = created.json()["secret"]  # shown once, at creation, to its owner
    assert endpoint_secret
    charge, invoice = paid_charge.pk, paid_charge.invoice_id
    api_paths = [
        "/api/v1/invoices",
        f"/api/v1/invoices/{invoice}",
        f"/api/v1/charges/{charge}",
        f"/api/v1/charges/{charge}/details",
        "/api/v1/refunds",
        "/api/v1/audit-events",
        "/api/v1/webhook-endpoints",
        "/api/v1/organization",
        "/api/openapi.json",
    ]
    pages = ["/", f"/invoices/{invoice}/", f"/charges/{charge}/details/", f"/charges/{charge}/refund/"]
    pages += ["/integrations/webhooks/", f"/integrations/webhooks/{created.json()['id']}/"]
    pages += ["/settings/", "/settings/organization/", "/settings/stripe/"]
    platform = Client()
    platform.force_login(get_user_model().objects.create_superuser("platform", "platform@example.com", "x" * 12))
    platform_pages = ["/platform/accounts/organization/", f"/platform/accounts/organization/{org.pk}/change/"]
    bodies = [api.get(p) for p in api_paths] + [owner_client.get(p) for p in pages]
    bodies += [platform.get(p) for p in platform_pages]
    assert all(r.status_code == 200 for r in bodies), [(r.status_code, r.request["PATH_INFO"]) for r in bodies]
    # Deliveries, good and bad, are logged and stored: the secret must not leak through them either.
    deliver(Client(), org, charge_event(org, paid_charge.stripe_charge_id))
    post_raw(Client(), org.slug, "{}", "t=1,v1=bad")
    with connection.cursor() as cursor:  # what a copy of the database would give away
        cursor.execute("SELECT stripe_secret_key, stripe_webhook_secret FROM accounts_organization")
        columns = [value for row in cursor.fetchall() for value in row]
        cursor.execute("SELECT secret FROM outgoing_webhookendpoint")
        columns += [value for (value,) in cursor.fetchall()]
    for text in [r.content.decode() for r in bodies] + [caplog.text] + columns:
        for secret in [*secrets, endpoint_secret]:
            assert secret not in text
    assert not any(marker in value for value in columns for marker in ("sk_test_", "whsec_", "fbwh_")), columns


def test_api_tokens_are_stored_hashed(owner):
    raw = api_token_create(membership=owner)
    stored = ApiToken.objects.get(membership=owner)
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in json.dumps(list(ApiToken.objects.values()), default=str)


def test_pages_and_api_answers_carry_the_security_headers(owner_client, api_client, owner):
    for response in (owner_client.get("/"), api_client(owner).get("/api/v1/invoices"), Client().get("/login/")):
        assert response["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["X-Content-Type-Options"] == "nosniff"


HEADERS_UNDER_PRODUCTION_SETTINGS = """
from django.test import Client
client = Client()
for secure in (True, False):
    response = client.get("/login/", secure=secure)
    print(secure, response.status_code, response.headers.get("Strict-Transport-Security", "-"))
"""


@pytest.mark.nostripe
def test_hsts_is_sent_over_https_when_flexbill_is_served_securely(tmp_path):
    """Run with the production settings themselves (FLEXBILL_SECURE=1), not with settings a test switched on."""
    result = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).with_name("flexbill")), "shell", "-c", HEADERS_UNDER_PRODUCTION_SETTINGS],
        env=production_env(tmp_path, FLEXBILL_ALLOWED_HOSTS="testserver"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    over_https, over_http = result.stdout.strip().splitlines()[-2:]
    assert over_https.startswith("True 200 max-age=31536000"), result.stdout
    assert over_http.startswith("False 301 -"), result.stdout  # plain http is redirected to https, without HSTS


def production_env(tmp_path, **env_changes) -> dict:
    """The environment of a production deployment; a change of None removes that variable."""
    env = {
        **os.environ,
        "FLEXBILL_SECURE": "1",
        "FLEXBILL_SECRET_KEY": "p" * 20 + "-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "FLEXBILL_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        "FLEXBILL_ALLOWED_HOSTS": "billing.example.com",
        "FLEXBILL_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
    }
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in-process.
    for leaked in ("FLEXBILL_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", *[k for k, v in env_changes.items() if v is None]):
        env.pop(leaked, None)
    env.update({k: v for k, v in env_changes.items() if v is not None})
    return env


def flexbill_check_with_production_settings(tmp_path, **env_changes) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [str(Path(sys.executable).with_name("flexbill")), "check", "--deploy", "--fail-level", "WARNING"],
        env=production_env(tmp_path, **env_changes),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.nostripe
def test_deploy_checklist_is_clean_for_production_settings(tmp_path):
    result = flexbill_check_with_production_settings(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.nostripe
@pytest.mark.parametrize(
    "keys, refusal",
    [
        (None, "FLEXBILL_ENCRYPTION_KEYS must be set when FLEXBILL_SECURE is on"),
        (" , ", "FLEXBILL_ENCRYPTION_KEYS holds no key"),
        ("not-a-fernet-key", "FLEXBILL_ENCRYPTION_KEYS: key 1 of 1 is not a Fernet key"),
        (
            f"{Fernet.generate_key().decode()},{'A' * 40}AA==",
            "FLEXBILL_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key",
        ),
    ],
    ids=["missing", "empty", "malformed", "second_malformed"],
)
def test_production_settings_without_a_valid_encryption_key_refuse_to_start(tmp_path, keys, refusal):
    result = flexbill_check_with_production_settings(tmp_path, FLEXBILL_ENCRYPTION_KEYS=keys)
    assert result.returncode == 2, result.stdout + result.stderr
    assert refusal in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "encryption_key").exists()  # never a key generated beside the data in production


# Cross-organization probes beyond tests/api/test_tenancy_api.py ----------------------------------------------------
@pytest.fixture
def theirs(make_org, make_member, make_paid_charge, make_customer):
    other = make_org()
    charge = make_paid_charge(other, amount=6000)
    services.refund_create(actor=Actor.for_membership(make_member(other, "owner")), charge=charge, amount=1000)
    customer, _ = make_customer(other)
    return {"org": other, "charge": charge, "customer": customer}


@pytest.mark.parametrize(
    "path, data",
    [
        ("/charges/{charge}/refund/", {"amount": "5.00", "reason": "requested_by_customer"}),
        ("/charges/{charge}/mark-refunded/status/", {}),
        ("/charges/{charge}/mark-refunded/delete/", {}),
        ("/invoices/{invoice}/credit-notes/", {"credit_note-amount": "5.00", "credit_note-reason": "Goodwill"}),
        ("/invoices/{invoice}/", None),
        ("/charges/{charge}/details/", None),
    ],
)
def test_ui_on_another_organizations_objects_is_a_404_and_changes_nothing(owner_client, theirs, path, data):
    charge = theirs["charge"]
    url = path.format(charge=charge.pk, invoice=charge.invoice_id)
    before = charge_state(charge)
    response = owner_client.get(url) if data is None else owner_client.post(url, data=data)
    assert response.status_code == 404
    assert charge_state(charge) == before
    assert Refund.objects.filter(charge=charge).count() == 1
    assert not CreditNote.objects.filter(invoice_id=charge.invoice_id).exists()


def test_payment_method_for_another_organizations_customer_is_a_404(api_client, owner, theirs):
    response = api_client(owner).post(
        f"/api/v1/customers/{theirs['customer'].pk}/payment-methods",
        data=json.dumps({"stripe_payment_method": "pm_card_visa"}),
        content_type="application/json",
    )
    assert response.status_code == 404
    assert theirs["customer"].payment_methods.count() == 1


def test_a_webhook_naming_another_organizations_charge_changes_nothing_there(org, theirs):
    """Both test organizations share a signing secret: the event is authentic for `org`, yet it must only ever
    touch `org`'s charges."""
    charge = theirs["charge"]
    stripe_refund_directly(theirs["org"], charge_id=charge.stripe_charge_id, amount=2000)
    before = charge_state(charge)
    response = deliver(Client(), org, charge_event(theirs["org"], charge.stripe_charge_id))
    assert response.status_code == 200
    assert charge_state(charge) == before
    assert Refund.objects.filter(charge=charge).count() == 1
