from django.db import migrations, models


def charges_take_their_payment_methods_details(apps, schema_editor):
    """Charges made before these columns existed take the brand and last four of the payment method they charged."""
    Charge = apps.get_model("billing", "Charge")
    PaymentMethod = apps.get_model("billing", "PaymentMethod")
    for method in PaymentMethod.objects.exclude(brand="", last4="").iterator():
        Charge.objects.filter(payment_method_id=method.pk).update(
            payment_method_brand=method.brand, payment_method_last4=method.last4
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_creditnote_refund_method_choices")]

    operations = [
        migrations.AddField(
            model_name="paymentmethod",
            name="bank_name",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="charge",
            name="payment_method_brand",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="charge",
            name="payment_method_bank",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="charge",
            name="payment_method_last4",
            field=models.CharField(blank=True, max_length=4),
        ),
        migrations.RunPython(charges_take_their_payment_methods_details, migrations.RunPython.noop),
    ]
