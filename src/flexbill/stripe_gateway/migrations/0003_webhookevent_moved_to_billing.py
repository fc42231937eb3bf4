"""The webhook deliveries table now belongs to billing (billing/0005_stripe_inbox); nothing changes in the
database here: the rows stay, billing renames the table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("stripe_gateway", "0002_rejected_delivery_summary"),
        ("billing", "0005_stripe_inbox"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="WebhookEvent")],
            database_operations=[],
        ),
    ]
