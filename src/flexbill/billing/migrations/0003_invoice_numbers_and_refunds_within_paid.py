import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F


def cap_refunded_at_paid(apps, schema_editor):
    """Invoices stored before refunds were bounded by payments: show them fully refunded, as flexbill now derives
    them, so that the constraint below can hold. Charges, refunds and credit notes keep every amount."""
    Invoice = apps.get_model("billing", "Invoice")
    Invoice.objects.filter(amount_refunded__gt=F("amount_paid")).update(amount_refunded=F("amount_paid"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("billing", "0002_refund_stripe_synced_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="InvoiceNumberSequence",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("next_value", models.PositiveBigIntegerField()),
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.organization"
                    ),
                ),
            ],
        ),
        migrations.RunPython(cap_refunded_at_paid, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_refunded__lte", models.F("amount_paid"))),
                name="invoice_refunded_within_paid",
            ),
        ),
    ]
