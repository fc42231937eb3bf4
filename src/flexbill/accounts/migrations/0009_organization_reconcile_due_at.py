from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_organization_access_version")]

    operations = [
        migrations.AddField(
            model_name="organization", name="reconcile_due_at", field=models.DateTimeField(blank=True, null=True)
        ),
    ]
