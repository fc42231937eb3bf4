"""Payment edge cases: pending payments and double charges, Stripe's 409 on an idempotency
key in use, refunds released while Stripe refunded, and Stripe answers arriving out of order."""

from datetime import timedelta

import pytest
import stripe
from django.utils import timezone

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, Refund
from flexbill.billing.services.reconcile import reconcile_organization
from flexbill.billing.services.refunds import _store
from flexbill.errors import Conflict
from flexbill.stripe_gateway.client import CHARGE_ID_KEY, _gateway_error, gateway_for
from flexbill.stripe_gateway.types import PaymentMethodInfo, RefundInfo, StripeUncertain
from flexbill_demo.stripe_dashboard import stripe_payment_method_create


def _sepa_charge(org, make_customer, make_invoice, iban="DE62370400440532013001", total=5000):
    customer, card = make_customer(org)
    method = services.payment_method_add(
        customer=customer,
        stripe_payment_method=stripe_payment_method_create(org, iban=iban, name="Ada", email="ada@example.com"),
        actor=SYSTEM,
    )
    invoice = make_invoice(org, customer, total=total, payment_method="stripe_sepa", currency="eur")
    return services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM), card


def test_a_pending_debit_counts_as_paid_so_the_invoice_cannot_be_charged_twice(org, make_customer, make_invoice):
    pending, card = _sepa_charge(org, make_customer, make_invoice)
    assert Charge.objects.get(pk=pending.pk).status == "pending"

    with pytest.raises(Conflict) as refused:
        services.charge_create_stripe(invoice=pending.invoice, payment_method_id=card.pk, actor=SYSTEM)

    assert refused.value.code == "invoice_paid"
    assert "pending" in refused.value.detail
    assert Charge.objects.filter(invoice=pending.invoice).count() == 1


@pytest.fixture
def charge_left_without_payment_intent(org, make_customer, make_invoice, make_pending_charge):
    """A charge whose PaymentIntent creation timed out: flexbill holds it pending with no Stripe ids."""

    def make(*, created_ago: timedelta):
        customer, card = make_customer(org)
        charge = make_pending_charge(make_invoice(org, customer, total=4000), payment_method=card, method_type="card")
        Charge.objects.filter(pk=charge.pk).update(created_at=timezone.now() - created_ago)
        return charge, customer, card

    return make


def test_reconcile_finds_the_payment_intent_of_a_charge_whose_creation_timed_out(
    org, charge_left_without_payment_intent
):
    charge, customer, card = charge_left_without_payment_intent(created_ago=timedelta(0))
    # The request did reach Stripe: a PaymentIntent carries the charge's id in its metadata.
    result = gateway_for(org).charge(
        customer_id=customer.stripe_customer_id,
        payment_method=PaymentMethodInfo(card.stripe_payment_method_id, "card"),
        amount=4000,
        currency=charge.currency,
        metadata={CHARGE_ID_KEY: str(charge.pk)},
        idempotency_key="timed-out",
    )

    report = reconcile_organization(org)

    charge.refresh_from_db()
    assert report.payments_settled == 1
    assert (charge.status, charge.stripe_payment_intent_id) == ("success", result.payment_intent_id)
    charge.invoice.refresh_from_db()
    assert charge.invoice.status == "paid"


def test_reconcile_fails_a_timed_out_charge_that_never_reached_stripe_after_the_grace_period(
    org, charge_left_without_payment_intent
):
    charge, _, _ = charge_left_without_payment_intent(created_ago=timedelta(hours=1))

    reconcile_organization(org)

    charge.refresh_from_db()
    assert charge.status == "failed"
    assert "never reached Stripe" in charge.failure_message


def test_stripe_409_for_an_idempotency_key_in_use_is_not_taken_as_a_refusal():
    error = _gateway_error(
        stripe.IdempotencyError("Keys for idempotent requests can only be used once", http_status=409)
    )
    assert isinstance(error, StripeUncertain) and error.maybe_applied


def test_a_refund_stripe_made_is_recorded_even_if_its_request_was_released_meanwhile(org, owner, paid_charge):
    refund = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=1000)
    stripe_refund = gateway_for(org).refunds_for_charge(paid_charge.stripe_charge_id)[0]
    Refund.objects.filter(pk=refund.pk).delete()  # as another attempt's release would
    services.charge_refresh(charge=Charge.objects.get(pk=paid_charge.pk), actor=SYSTEM)

    stored = _store(refund=refund, info=stripe_refund, actor=SYSTEM, read_at=timezone.now())

    assert stored.stripe_refund_id == stripe_refund.id and stored.status == "succeeded"
    assert Charge.objects.get(pk=paid_charge.pk).amount_refunded == 1000
    # Recorded in the name of whoever sent it, not as a refund made in Stripe by someone else.
    assert {e.actor_type for e in AuditEvent.objects.filter(object_type="refund", object_id=str(stored.pk))} == {
        SYSTEM.type
    }


def test_an_older_read_of_stripe_never_turns_a_refund_status_back(org, owner, paid_charge):
    refund = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge)
    info = gateway_for(org).refunds_for_charge(paid_charge.stripe_charge_id)[0]
    failed = RefundInfo(**{**info.__dict__, "status": "failed", "failure_reason": "lost_or_stolen_card"})
    earlier, later = timezone.now() - timedelta(seconds=30), timezone.now()

    services.charge_sync_refunds(charge=paid_charge, refunds=[failed], read_at=later)
    services.charge_sync_refunds(charge=paid_charge, refunds=[info], read_at=earlier)  # a slow, older read

    refund.refresh_from_db()
    assert refund.status == "failed"
    assert Charge.objects.get(pk=paid_charge.pk).status == "success"
