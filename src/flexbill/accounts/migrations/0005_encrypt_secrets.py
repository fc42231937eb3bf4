"""Stripe secret keys and webhook signing secrets are encrypted at rest (FLEXBILL_ENCRYPTION_KEYS).

The columns become plain text first, so the data step sees what the database holds; then they become encrypted
fields, which changes nothing in the database."""

from django.db import migrations, models

import flexbill.encryption.fields
from flexbill.encryption.migration import decrypt_values, encrypt_plain_values

FIELDS = ["stripe_secret_key", "stripe_webhook_secret"]


def encrypt_secrets(apps, schema_editor):
    encrypt_plain_values(apps, "accounts", "Organization", FIELDS)


def decrypt_secrets(apps, schema_editor):
    decrypt_values(apps, "accounts", "Organization", FIELDS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_sign_in_count"),
    ]

    operations = [
        *[
            migrations.AlterField(
                model_name="organization", name=name, field=models.TextField(blank=True, max_length=255)
            )
            for name in FIELDS
        ],
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
        *[
            migrations.AlterField(
                model_name="organization",
                name=name,
                field=flexbill.encryption.fields.EncryptedTextField(blank=True, max_length=255),
            )
            for name in FIELDS
        ],
    ]
