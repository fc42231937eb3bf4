from flexbill.audit.services import SYSTEM
from flexbill.billing import services
from flexbill.billing.models import Charge


def test_card_charge_through_stripe_succeeds_and_pays_the_invoice(org, make_paid_charge):
    charge = make_paid_charge(org, amount=4200)
    charge.refresh_from_db()
    assert charge.status == "success"
    assert charge.stripe_charge_id.startswith("ch_")
    assert charge.stripe_payment_intent_id.startswith("pi_")
    assert charge.payment_method_type == "card"
    charge.invoice.refresh_from_db()
    assert charge.invoice.status == "paid"
    assert charge.invoice.amount_paid == 4200


def test_declined_card_gives_a_failed_charge_with_the_decline_message(org, make_customer, make_invoice):
    customer, method = make_customer(org, "pm_card_chargeCustomerFail")
    invoice = make_invoice(org, customer, total=5000)
    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)
    charge = Charge.objects.get(pk=charge.pk)
    assert charge.status == "failed"
    assert "declined" in charge.failure_message.lower()
    invoice.refresh_from_db()
    assert invoice.status == "failed"
    assert invoice.amount_paid == 0
