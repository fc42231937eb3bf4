"""Outgoing webhook endpoints' signing secrets are encrypted at rest (FLEXBILL_ENCRYPTION_KEYS).

The column becomes plain text first, so the data step sees what the database holds; then it becomes an encrypted
field, which changes nothing in the database."""

from django.db import migrations, models

import flexbill.encryption.fields
from flexbill.encryption.migration import decrypt_values, encrypt_plain_values


def encrypt_secrets(apps, schema_editor):
    encrypt_plain_values(apps, "outgoing", "WebhookEndpoint", ["secret"])


def decrypt_secrets(apps, schema_editor):
    decrypt_values(apps, "outgoing", "WebhookEndpoint", ["secret"])


class Migration(migrations.Migration):
    dependencies = [
        ("outgoing", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint", name="secret", field=models.TextField(editable=False)
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=flexbill.encryption.fields.EncryptedTextField(editable=False),
        ),
    ]
