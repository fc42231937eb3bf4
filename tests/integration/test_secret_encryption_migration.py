"""The data migrations encrypt the plain-text secrets of existing rows, leave rows already encrypted alone, and
decrypt them again when reversed."""

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

MIGRATIONS = [("accounts", "0005_encrypt_secrets"), ("outgoing", "0003_encrypt_endpoint_secret")]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def stored_rows() -> dict[str, tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT slug, stripe_secret_key, stripe_webhook_secret FROM accounts_organization")
        rows = {slug: (key, secret) for slug, key, secret in cursor.fetchall()}
        cursor.execute("SELECT url, secret FROM outgoing_webhookendpoint")
        rows.update({url: (secret,) for url, secret in cursor.fetchall()})
    return rows


@pytest.mark.nostripe
@pytest.mark.django_db(transaction=True)
def test_the_data_migration_encrypts_plain_rows_leaves_encrypted_ones_and_reverses_to_plain_text(settings):
    key = settings.FLEXBILL_ENCRYPTION_KEYS[0]
    loader = MigrationExecutor(connection).loader
    # The migrations just before ours, whatever they are named.
    before = [
        dependency
        for app, name in MIGRATIONS
        for dependency in loader.get_migration(app, name).dependencies
        if dependency[0] == app
    ]
    latest = loader.graph.leaf_nodes()
    already = Fernet(key).encrypt(b"sk_test_already_encrypted").decode()
    try:
        old_state = migrate(before).loader.project_state(before).apps
        Organization = old_state.get_model("accounts", "Organization")
        WebhookEndpoint = old_state.get_model("outgoing", "WebhookEndpoint")
        plain = Organization.objects.create(
            slug="plain", name="Plain", stripe_secret_key="sk_test_plain", stripe_webhook_secret="whsec_plain"
        )
        Organization.objects.create(slug="unset", name="Unset")
        Organization.objects.create(slug="encrypted", name="Encrypted", stripe_secret_key=already)
        WebhookEndpoint.objects.create(organization_id=plain.pk, url="https://hooks.example.com/in", secret="fbwh_x")

        migrate(MIGRATIONS)
        forward = stored_rows()
        assert all(
            marker not in value for row in forward.values() for value in row for marker in ("sk_", "whsec_", "fbwh_")
        ), forward
        decrypt = Fernet(key).decrypt
        assert [decrypt(v.encode()).decode() for v in forward["plain"]] == ["sk_test_plain", "whsec_plain"]
        assert decrypt(forward["https://hooks.example.com/in"][0].encode()) == b"fbwh_x"
        assert forward["unset"] == ("", "")
        assert forward["encrypted"] == (already, "")  # left exactly as it was, not encrypted twice

        migrate(before)
        assert stored_rows() == {
            "plain": ("sk_test_plain", "whsec_plain"),
            "unset": ("", ""),
            "encrypted": ("sk_test_already_encrypted", ""),
            "https://hooks.example.com/in": ("fbwh_x",),
        }
    finally:
        migrate(latest)
