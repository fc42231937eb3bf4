from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_refund_approval_threshold")]

    operations = [
        migrations.AddField(
            model_name="organization", name="access_version", field=models.PositiveBigIntegerField(default=0, db_default=0)
        ),
    ]
