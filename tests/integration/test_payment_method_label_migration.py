"""Charges made before charges kept what they were paid with take the brand and last four of the payment method
they charged, so their label is right from the first page view after the upgrade."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from flexbill.billing.payment_methods import payment_method_label

MIGRATION = ("billing", "0007_payment_method_labels")


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.mark.nostripe
@pytest.mark.django_db(transaction=True)
def test_existing_charges_take_the_brand_and_last_four_of_the_payment_method_they_charged():
    loader = MigrationExecutor(connection).loader
    before = [d for d in loader.get_migration(*MIGRATION).dependencies if d[0] == MIGRATION[0]]
    latest = loader.graph.leaf_nodes()
    try:
        apps = migrate(before).loader.project_state(before).apps
        org = apps.get_model("accounts", "Organization").objects.create(slug="old", name="Old")
        customer = apps.get_model("billing", "Customer").objects.create(organization=org, name="Ada", email="a@x.io")
        invoice = apps.get_model("billing", "Invoice").objects.create(
            organization=org,
            number="INV-1",
            customer=customer,
            currency="eur",
            total=100,
            payment_method="stripe_card",
            issued_on=timezone.now().date(),
        )
        method = apps.get_model("billing", "PaymentMethod").objects.create(
            organization=org,
            customer=customer,
            stripe_payment_method_id="pm_1",
            type="card",
            brand="visa",
            last4="4242",
        )
        Charge = apps.get_model("billing", "Charge")
        common = {
            "organization": org,
            "invoice": invoice,
            "amount": 50,
            "currency": "eur",
            "source": "stripe",
            "payment_status": "success",
            "status": "success",
            "charged_at": timezone.now(),
        }
        with_method = Charge.objects.create(payment_method=method, payment_method_type="card", **common)
        without = Charge.objects.create(payment_method_type="sepa_debit", **common)

        migrate([MIGRATION])

        migrated = MigrationExecutor(connection).loader.project_state([MIGRATION]).apps.get_model("billing", "Charge")
        labels = {
            c.pk: payment_method_label(
                type=c.payment_method_type,
                brand=c.payment_method_brand,
                bank_name=c.payment_method_bank,
                last4=c.payment_method_last4,
            )
            for c in migrated.objects.all()
        }
        assert labels == {with_method.pk: "Visa ···· 4242", without.pk: "SEPA Direct Debit"}
    finally:
        migrate(latest)
