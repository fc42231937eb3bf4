"""The Stripe webhook deliveries table moves to billing and becomes the inbox of verified events.

The model moves in state only (its rows stay), then its table is renamed, the error column becomes last_error,
retry fields are added, and a verified Stripe event is stored once per organization: earlier redeliveries of one
event (stored once per delivery until now) are folded into the row that was processed, or the first one.
"""

import django.db.models.deletion
from django.db import migrations, models


def keep_one_row_per_verified_event(apps, schema_editor):
    WebhookEvent = apps.get_model("billing", "WebhookEvent")
    seen = {}
    duplicates = []
    rows = WebhookEvent.objects.filter(verified=True).order_by("organization_id", "event_id", "-processed_at", "id")
    for pk, org_id, event_id, processed_at in rows.values_list("pk", "organization_id", "event_id", "processed_at"):
        key = (org_id, event_id)
        if key in seen:
            duplicates.append(pk)
        else:
            seen[key] = pk
    for start in range(0, len(duplicates), 500):
        WebhookEvent.objects.filter(pk__in=duplicates[start : start + 500]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_organization_locale"),
        ("billing", "0003_invoice_numbers_and_refunds_within_paid"),
        ("stripe_gateway", "0002_rejected_delivery_summary"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WebhookEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        ("org_slug", models.CharField(max_length=100)),
                        ("event_id", models.CharField(blank=True, max_length=255, null=True)),
                        ("event_type", models.CharField(blank=True, max_length=100)),
                        ("headers", models.JSONField(default=dict)),
                        ("body", models.TextField()),
                        ("body_size", models.PositiveIntegerField(default=0)),
                        ("body_sha256", models.CharField(blank=True, max_length=64)),
                        ("received_at", models.DateTimeField(auto_now_add=True)),
                        ("verified", models.BooleanField(default=False)),
                        ("processed_at", models.DateTimeField(blank=True, null=True)),
                        ("outcome", models.CharField(blank=True, max_length=500)),
                        ("error", models.TextField(blank=True)),
                        (
                            "organization",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="accounts.organization",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "stripe_gateway_webhookevent",
                        "indexes": [
                            models.Index(fields=["organization", "event_id"], name="webhook_org_event"),
                            models.Index(fields=["verified", "received_at"], name="webhook_verified_received"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("processed_at__isnull", False)),
                                fields=("organization", "event_id"),
                                name="webhook_event_processed_once",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="webhookevent", table=None),
        migrations.RenameField(model_name="webhookevent", old_name="error", new_name="last_error"),
        migrations.AddField(
            model_name="webhookevent", name="attempts", field=models.PositiveIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="webhookevent", name="next_attempt_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="webhookevent", name="claimed_until", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.RemoveConstraint(model_name="webhookevent", name="webhook_event_processed_once"),
        migrations.RunPython(keep_one_row_per_verified_event, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="webhookevent",
            constraint=models.UniqueConstraint(
                condition=models.Q(("verified", True)), fields=("organization", "event_id"), name="webhook_event_once"
            ),
        ),
        migrations.AddIndex(
            model_name="webhookevent",
            index=models.Index(
                condition=models.Q(("processed_at__isnull", True), ("verified", True)),
                fields=["id"],
                name="inbox_unapplied",
            ),
        ),
    ]
