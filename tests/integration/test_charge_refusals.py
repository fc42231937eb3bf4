"""Charging an invoice through Stripe: whose payment method, which invoices, how much, and what a Stripe failure
leaves behind. Each refusal leaves no charge and moves no money."""

import pytest

from flexbill.audit.services import SYSTEM
from flexbill.billing import services
from flexbill.billing.models import Charge, Invoice
from flexbill.errors import Conflict, NotFound, StripeFailed
from reliability.reliability_server import FailingStripe
from stripe_events import stripe_client


def _stripe_payment_intents(org) -> list:
    return list(stripe_client(org).v1.payment_intents.list(params={"limit": 100}).auto_paging_iter())


@pytest.fixture
def invoice(org, make_customer, make_invoice):
    customer, card = make_customer(org)
    return make_invoice(org, customer, total=5000), card


def test_a_payment_method_of_another_customer_of_the_same_organization_cannot_pay_the_invoice(
    org, invoice, make_customer
):
    invoice, _ = invoice
    _, someone_elses_card = make_customer(org)

    with pytest.raises(NotFound):
        services.charge_create_stripe(invoice=invoice, payment_method_id=someone_elses_card.pk, actor=SYSTEM)

    assert not Charge.objects.exists()
    assert _stripe_payment_intents(org) == []


def test_a_payment_method_of_another_organizations_customer_cannot_pay_the_invoice(
    org, invoice, make_org, make_customer
):
    invoice, _ = invoice
    _, their_card = make_customer(make_org())

    with pytest.raises(NotFound):
        services.charge_create_stripe(invoice=invoice, payment_method_id=their_card.pk, actor=SYSTEM)

    assert not Charge.objects.exists()


@pytest.mark.parametrize("status", ["draft", "voided"])
def test_a_draft_or_voided_invoice_cannot_be_charged(org, invoice, status):
    invoice, card = invoice
    Invoice.objects.filter(pk=invoice.pk).update(status=status)

    with pytest.raises(Conflict) as refused:
        services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)

    assert refused.value.code == "invoice_not_payable"
    assert not Charge.objects.exists()
    assert _stripe_payment_intents(org) == []


@pytest.mark.parametrize("record", [False, True], ids=["through_stripe", "recorded_from_xero"])
def test_a_charge_above_what_the_invoice_still_owes_is_refused(org, invoice, record):
    invoice, card = invoice
    services.charge_record(invoice=invoice, source="manual", amount=2000, reference="cash", actor=SYSTEM)

    with pytest.raises(Conflict) as refused:
        if record:
            services.charge_record(invoice=invoice, source="xero", amount=3001, reference="X-1", actor=SYSTEM)
        else:
            services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM, amount=3001)

    assert refused.value.code == "amount_too_large"
    assert "3000" in refused.value.detail
    assert list(Charge.objects.values_list("amount", flat=True)) == [2000]


def test_the_default_amount_is_what_the_invoice_still_owes(org, invoice):
    invoice, card = invoice
    services.charge_record(invoice=invoice, source="manual", amount=1200, reference="cash", actor=SYSTEM)

    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)

    assert (charge.amount, charge.status) == (3800, "success")
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == 5000


def test_stripe_refusing_the_request_leaves_no_charge_and_the_invoice_unpaid(org, invoice, settings):
    invoice, card = invoice
    settings.FLEXBILL_STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: the request never reached Stripe

    with pytest.raises(StripeFailed):
        services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)

    assert not Charge.objects.exists()
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == 0


def test_stripe_failing_after_the_request_may_have_arrived_keeps_the_charge_pending_for_reconcile(
    org, invoice, settings
):
    invoice, card = invoice
    outage = FailingStripe(status=500)
    settings.FLEXBILL_STRIPE_API_BASE = outage.url
    try:
        charge = services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)
    finally:
        outage.stop()

    charge = Charge.objects.get(pk=charge.pk)
    assert (charge.status, charge.stripe_payment_intent_id) == ("pending", None)
    # A payment that may have happened blocks a second charge of the same invoice until reconcile settles it.
    with pytest.raises(Conflict) as refused:
        services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)
    assert refused.value.code == "invoice_paid"


@pytest.mark.parametrize("status", ["draft", "voided"])
@pytest.mark.parametrize("source", ["xero", "quickbooks", "manual"])
def test_a_draft_or_voided_invoice_takes_no_recorded_payment_either(org, invoice, status, source):
    invoice, _ = invoice
    Invoice.objects.filter(pk=invoice.pk).update(status=status)

    with pytest.raises(Conflict) as refused:
        services.charge_record(invoice=invoice, source=source, amount=1000, reference="R-1", actor=SYSTEM)

    assert refused.value.code == "invoice_not_payable"
    assert not Charge.objects.exists()
    assert Invoice.objects.get(pk=invoice.pk).status == status
