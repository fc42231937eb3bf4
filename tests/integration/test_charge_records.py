"""What charging leaves behind, exactly: the refusal (code and sentence) for each bad request, the audit event of
each payment with what it recorded, and what flexbill tells Stripe about the payment."""

import pytest

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM
from flexbill.billing import services
from flexbill.billing.models import Charge
from flexbill.errors import Conflict, InvalidInput, NotFound, StripeFailed
from flexbill.stripe_gateway.types import PaymentResult
from recording_stripe import recording_stripe
from stripe_events import stripe_client


def charge_events(charge) -> list[tuple]:
    events = AuditEvent.objects.filter(object_type="charge", object_id=str(charge.pk)).order_by("id")
    return [(e.action, e.before, e.after, e.message, e.invoice_id) for e in events]


@pytest.fixture
def invoice(org, make_customer, make_invoice):
    customer, card = make_customer(org)
    return make_invoice(org, customer, total=5000), card


@pytest.mark.parametrize(
    ("fields", "code", "detail"),
    [
        ({"source": "paypal"}, "source_invalid", "source must be stripe, xero, quickbooks or manual."),
        ({"source": "stripe"}, "source_invalid", "source must be stripe, xero, quickbooks or manual."),
        ({"amount": None}, "amount_invalid", "amount is required for a recorded charge."),
        ({"reference": "R" * 256}, "reference_invalid", "reference must be at most 255 characters."),
        ({"reference": " " + "R" * 256}, "reference_invalid", "reference must be at most 255 characters."),
    ],
)
def test_a_recorded_payment_with_bad_input_is_refused_with_its_code_and_sentence(invoice, fields, code, detail):
    invoice, _ = invoice
    request = {"source": "xero", "amount": 1000, "reference": "X-1", **fields}

    with pytest.raises(InvalidInput) as refused:
        services.charge_record(invoice=invoice, actor=SYSTEM, **request)

    assert (refused.value.code, refused.value.detail) == (code, detail)
    assert not Charge.objects.exists()


@pytest.mark.parametrize(
    ("reference", "stored"),
    [("R" * 255, "R" * 255), ("  XERO-77  ", "XERO-77"), ("", ""), (None, "")],
)
def test_a_recorded_payment_keeps_its_reference_trimmed_up_to_255_characters(invoice, reference, stored):
    invoice, _ = invoice
    charge = services.charge_record(
        invoice=invoice, source="quickbooks", amount=1000, reference=reference, actor=SYSTEM
    )
    assert Charge.objects.get(pk=charge.pk).reference == stored


def test_a_recorded_payment_is_audited_once_as_created_with_what_was_recorded(invoice):
    invoice, _ = invoice

    charge = services.charge_record(invoice=invoice, source="manual", amount=2000, reference="Cash desk", actor=SYSTEM)

    stored = Charge.objects.get(pk=charge.pk)
    assert (stored.payment_status, stored.status, stored.currency, stored.source) == (
        "success",
        "success",
        invoice.currency,
        "manual",
    )
    assert charge_events(charge) == [
        (
            "charge.created",
            None,
            {"payment_status": "success", "amount": 2000, "source": "manual", "reference": "Cash desk"},
            "",
            invoice.pk,
        )
    ]


def test_a_card_payment_is_audited_once_as_created_with_its_outcome(invoice):
    invoice, card = invoice

    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)

    assert (charge.payment_status, Charge.objects.get(pk=charge.pk).status) == ("success", "success")
    assert charge_events(charge) == [
        ("charge.created", None, {"payment_status": "success", "amount": 5000, "source": "stripe"}, "", invoice.pk)
    ]


def test_a_card_payment_tells_stripe_the_customer_method_amount_and_flexbill_charge_and_invoice(org, invoice):
    invoice, card = invoice

    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM, amount=3000)

    intent = stripe_client(org).v1.payment_intents.retrieve(charge.stripe_payment_intent_id)
    assert (intent.amount, intent.currency, intent.customer, intent.payment_method) == (
        3000,
        invoice.currency,
        invoice.customer.stripe_customer_id,
        card.stripe_payment_method_id,
    )
    stored = Charge.objects.get(pk=charge.pk)
    assert (stored.payment_method_id, stored.payment_method_type, stored.currency, stored.source) == (
        card.pk,
        "card",
        invoice.currency,
        "stripe",
    )
    assert intent.metadata.to_dict() == {"flexbill_charge_id": str(charge.pk), "flexbill_invoice": invoice.number}


def test_a_payment_method_of_another_customer_is_refused_with_its_sentence(org, invoice, make_customer):
    invoice, _ = invoice
    _, other_card = make_customer(org)

    with pytest.raises(NotFound) as refused:
        services.charge_create_stripe(invoice=invoice, payment_method_id=other_card.pk, actor=SYSTEM)

    assert refused.value.detail == "No such payment method on this invoice's customer."


@pytest.mark.parametrize("status", ["draft", "voided"])
def test_a_draft_or_voided_invoice_is_refused_with_a_sentence_naming_its_status(invoice, status):
    invoice, card = invoice
    invoice.status = status
    invoice.save(update_fields=["status"])

    with pytest.raises(Conflict) as refused:
        services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)

    assert (refused.value.code, refused.value.detail) == (
        "invoice_not_payable",
        f"A {status} invoice cannot be charged.",
    )


def test_more_than_is_owed_is_refused_and_exactly_what_is_owed_is_charged(invoice):
    invoice, card = invoice
    services.charge_record(invoice=invoice, source="xero", amount=1000, reference="", actor=SYSTEM)

    with pytest.raises(Conflict) as refused:
        services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM, amount=4001)
    assert (refused.value.code, refused.value.detail) == (
        "amount_too_large",
        "The amount is more than the invoice still owes: 4000.",
    )

    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM, amount=4000)
    assert charge.amount == 4000


def test_a_declined_card_is_audited_as_created_with_the_failure_and_its_message(org, make_customer, make_invoice):
    customer, method = make_customer(org, "pm_card_chargeCustomerFail")
    invoice = make_invoice(org, customer, total=5000)

    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)

    [(action, before, after, message, invoice_id)] = charge_events(charge)
    assert (action, before, after, invoice_id) == (
        "charge.created",
        None,
        {"payment_status": "failed", "amount": 5000, "source": "stripe"},
        invoice.pk,
    )
    assert message == Charge.objects.get(pk=charge.pk).failure_message != ""


def test_a_later_payment_outcome_is_audited_from_what_it_was_and_the_same_outcome_again_changes_nothing(
    org, invoice, make_pending_charge
):
    invoice, card = invoice
    charge = make_pending_charge(invoice, payment_method=card, method_type="card")
    failed = PaymentResult(status="failed", payment_intent_id="pi_1", charge_id="ch_1", failure_message="E" * 600)

    services.charge_update_payment(charge=charge, result=failed, actor=SYSTEM)
    services.charge_update_payment(charge=charge, result=failed, actor=SYSTEM)

    stored = Charge.objects.get(pk=charge.pk)
    assert (stored.payment_status, stored.status, stored.failure_message) == ("failed", "failed", "E" * 500)
    assert charge_events(charge) == [
        (
            "charge.payment_updated",
            {"payment_status": "pending", "status": "pending", "amount_refunded": 0, "amount_reserved": 0},
            {"payment_status": "failed", "amount": 5000, "source": "stripe"},
            "E" * 600,
            invoice.pk,
        )
    ]


def test_every_attempt_to_charge_carries_one_idempotency_key_naming_the_charge(settings, invoice):
    invoice, card = invoice
    with recording_stripe() as (url, received):
        settings.FLEXBILL_STRIPE_API_BASE = url
        charge = services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)

    keys = {headers.get("Idempotency-Key") for headers in received}
    assert received and keys == {f"flexbill-charge-{charge.pk}-{charge.created_at.timestamp():.0f}"}
    assert all("payment_method_types[0]=card" in headers["body"] for headers in received)
    # Stripe may have charged: the charge stays pending, with what Stripe answered, for reconcile to settle.
    stored = Charge.objects.get(pk=charge.pk)
    assert stored.payment_status == "pending" and stored.failure_message != ""


@pytest.mark.django_db(transaction=True)
def test_while_a_charge_is_with_stripe_it_is_pending_and_a_second_charge_of_the_invoice_is_refused(settings, invoice):
    """The charge is committed as pending before Stripe is called, so that a concurrent request counts it."""
    from django.db import connection

    invoice, card = invoice
    seen = []

    def meanwhile():
        if seen:
            return  # the second charge was let through to Stripe: the assertion below says so
        try:
            seen.append(list(Charge.objects.values_list("payment_status", "status")))
            try:
                services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)
                seen.append("charged twice")
            except Conflict as refused:
                seen.append(refused.code)
        finally:
            connection.close()

    with recording_stripe(on_request=meanwhile) as (url, _):
        settings.FLEXBILL_STRIPE_API_BASE = url
        services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)

    assert seen == [[("pending", "pending")], "invoice_paid"]
    assert Charge.objects.count() == 1


def test_a_charge_stripe_surely_did_not_make_is_removed_and_says_why(settings, invoice):
    invoice, card = invoice
    settings.FLEXBILL_STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there: the request never leaves

    with pytest.raises(StripeFailed) as failed:
        services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)

    assert failed.value.detail.startswith("Stripe could not charge the payment method: ")
    assert not Charge.objects.exists()
