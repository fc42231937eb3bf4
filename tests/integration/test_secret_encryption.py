"""Stripe secret keys and webhook signing secrets are encrypted at rest with FLEXBILL_ENCRYPTION_KEYS: the columns
hold Fernet tokens, code reads plain text, rotation re-encrypts with the first key, and a missing key is a clear
error naming the setting."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection

from flexbill.accounts.models import Organization
from flexbill.audit.services import SYSTEM
from flexbill.encryption.keys import SecretUndecryptable
from flexbill.outgoing.models import WebhookEndpoint
from flexbill.outgoing.services import webhook_endpoint_create

PLAIN_MARKERS = ("sk_test_", "whsec_", "fbwh_")


def stored_organization_secrets(org) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stripe_secret_key, stripe_webhook_secret FROM accounts_organization WHERE id = %s", [org.pk]
        )
        return cursor.fetchone()


def stored_endpoint_secret(endpoint) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM outgoing_webhookendpoint WHERE id = %s", [endpoint.pk])
        return cursor.fetchone()[0]


def decrypts_with(key: str, token: str) -> str:
    return Fernet(key).decrypt(token.encode()).decode()


def assert_no_plain_text(*stored: str) -> None:
    for value in stored:
        assert not any(marker in value for marker in PLAIN_MARKERS), value


def test_an_organization_created_by_the_service_stores_its_stripe_secrets_encrypted(make_org, settings):
    org = make_org(stripe_secret_key="sk_test_service_key", stripe_webhook_secret="whsec_service_secret")

    stored_key, stored_secret = stored_organization_secrets(org)
    assert_no_plain_text(stored_key, stored_secret)
    (key,) = settings.FLEXBILL_ENCRYPTION_KEYS
    assert decrypts_with(key, stored_key) == "sk_test_service_key"
    assert decrypts_with(key, stored_secret) == "whsec_service_secret"
    reread = Organization.objects.get(pk=org.pk)
    assert (reread.stripe_secret_key, reread.stripe_webhook_secret) == ("sk_test_service_key", "whsec_service_secret")


def flexbill(*args: str) -> str:
    """Run a `flexbill` command (the console script's management command) and return what it printed."""
    out = io.StringIO()
    call_command(args[0].replace("-", "_"), *args[1:], stdout=out)
    return out.getvalue()


def test_an_organization_created_with_flexbill_org_create_stores_its_stripe_secrets_encrypted(db, settings):
    printed = flexbill(
        *["org", "create", "--slug", "harbour", "--name", "Harbour Coworking"],
        *["--stripe-secret-key", "sk_test_from_cli", "--stripe-webhook-secret", "whsec_from_cli"],
    )

    assert "Created organization harbour" in printed
    org = Organization.objects.get(slug="harbour")
    stored_key, stored_secret = stored_organization_secrets(org)
    assert_no_plain_text(stored_key, stored_secret)
    (key,) = settings.FLEXBILL_ENCRYPTION_KEYS
    assert (decrypts_with(key, stored_key), decrypts_with(key, stored_secret)) == ("sk_test_from_cli", "whsec_from_cli")


def test_an_outgoing_endpoint_stores_its_signing_secret_encrypted(org, settings):
    endpoint = webhook_endpoint_create(organization=org, url="https://hooks.example.com/in", actor=SYSTEM)

    stored = stored_endpoint_secret(endpoint)
    assert endpoint.secret.startswith("fbwh_")
    assert_no_plain_text(stored)
    assert decrypts_with(settings.FLEXBILL_ENCRYPTION_KEYS[0], stored) == endpoint.secret
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_an_unset_secret_stays_unset_and_is_the_only_comparison_sql_may_make(make_org):
    with_keys = make_org(stripe_secret_key="sk_test_set")
    without = make_org(stripe_secret_key="", stripe_webhook_secret="")

    assert stored_organization_secrets(without) == ("", "")
    assert set(Organization.objects.exclude(stripe_secret_key="")) == {with_keys}
    # Every encryption of a secret differs, so an equality test in SQL would silently find nothing: refused.
    for lookup in ({"stripe_secret_key": "sk_test_set"}, {"stripe_webhook_secret__startswith": "whsec_"}):
        with pytest.raises(FieldError, match="encrypted|Unsupported lookup"):
            list(Organization.objects.filter(**lookup))


def test_a_secret_whose_key_left_flexbill_encryption_keys_is_a_clear_error_never_garbage(make_org, settings):
    org = make_org()
    settings.FLEXBILL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(SecretUndecryptable, match="FLEXBILL_ENCRYPTION_KEYS") as refused:
        Organization.objects.get(pk=org.pk)
    assert "accounts.Organization.stripe_secret_key" in str(refused.value)


@pytest.fixture
def secrets_under_the_old_key(make_org, settings):
    """Three organizations (one without Stripe secrets) and an outgoing endpoint, encrypted with an old key."""
    old = settings.FLEXBILL_ENCRYPTION_KEYS[0]
    orgs = [make_org(), make_org(), make_org(stripe_secret_key="", stripe_webhook_secret="")]
    endpoint = webhook_endpoint_create(organization=orgs[0], url="https://hooks.example.com/in", actor=SYSTEM)
    plain = {org.pk: (org.stripe_secret_key, org.stripe_webhook_secret) for org in orgs}
    return old, orgs, endpoint, plain


def test_rotation_with_a_new_key_first_re_encrypts_every_secret_so_the_new_key_alone_reads_them(
    secrets_under_the_old_key, settings
):
    old, orgs, endpoint, plain = secrets_under_the_old_key
    new = Fernet.generate_key().decode()
    settings.FLEXBILL_ENCRYPTION_KEYS = [new, old]

    printed = flexbill("rotate-encryption-keys", "--batch-size", "1")

    assert "Rotated 3 of 4 rows" in printed  # two organizations and the endpoint
    settings.FLEXBILL_ENCRYPTION_KEYS = [new]
    for org in orgs:
        stored = stored_organization_secrets(org)
        assert tuple(decrypts_with(new, token) if token else "" for token in stored) == plain[org.pk]
        reread = Organization.objects.get(pk=org.pk)
        assert (reread.stripe_secret_key, reread.stripe_webhook_secret) == plain[org.pk]
    assert decrypts_with(new, stored_endpoint_secret(endpoint)) == endpoint.secret

    settings.FLEXBILL_ENCRYPTION_KEYS = [new, old]
    assert "Rotated 0 of 4 rows" in flexbill("rotate-encryption-keys")  # idempotent: nothing left under the old key


def test_rotation_that_meets_a_secret_no_key_decrypts_names_the_setting_and_rotates_nothing(
    secrets_under_the_old_key, make_org, settings
):
    old, orgs, endpoint, _ = secrets_under_the_old_key
    lost = Fernet.generate_key().decode()
    settings.FLEXBILL_ENCRYPTION_KEYS = [lost]
    make_org()  # its secrets are encrypted with a key that is then lost
    before = [stored_organization_secrets(org) for org in orgs] + [stored_endpoint_secret(endpoint)]

    settings.FLEXBILL_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    with pytest.raises(CommandError, match="FLEXBILL_ENCRYPTION_KEYS.*Nothing was rotated"):
        flexbill("rotate-encryption-keys", "--batch-size", "1")

    assert [stored_organization_secrets(org) for org in orgs] + [stored_endpoint_secret(endpoint)] == before
