"""An invoice never shows more refunded than was paid, whatever mix of Stripe refunds, charges marked refunded and
credit notes recording money returned produced it; every refusal changes nothing (rules.InvoiceRefunds)."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import rules, services
from flexbill.billing.models import Charge, CreditNote, Invoice, Refund
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.billing.services.derive import invoice_figures
from flexbill.billing.services.reconcile import reconcile_organization
from flexbill.errors import FlexbillError
from flexbill_demo.stripe_dashboard import stripe_refund_directly


def reload(obj):
    return type(obj).objects.get(pk=obj.pk)


def state(invoice) -> tuple:
    return (
        list(Invoice.objects.filter(pk=invoice.pk).values()),
        list(Charge.objects.filter(invoice=invoice).order_by("id").values()),
        list(Refund.objects.filter(charge__invoice=invoice).order_by("id").values()),
        list(CreditNote.objects.filter(invoice=invoice).order_by("id").values()),
        AuditEvent.objects.filter(organization_id=invoice.organization_id).count(),
    )


def returned(owner, invoice, amount, method="bank_transfer"):
    return services.credit_note_create(
        actor=Actor.for_membership(owner), invoice=invoice, amount=amount, reason="Returned", refund_method=method
    )


def assert_within_paid(invoice):
    invoice = reload(invoice)
    assert 0 <= invoice.amount_refunded <= invoice.amount_paid
    return invoice


def test_full_stripe_refund_then_money_returned_by_credit_note_is_refused(owner, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge)
    before = state(paid_charge.invoice)

    with pytest.raises(RefundRefused) as refused:
        returned(owner, paid_charge.invoice, 1)

    assert refused.value.refusal is Refusal.REFUNDS_EXCEED_PAID
    assert refused.value.status == 409
    assert state(paid_charge.invoice) == before


@pytest.mark.parametrize("via", ["status", "delete"])
def test_charge_marked_refunded_then_money_returned_by_credit_note_is_refused(owner, paid_charge, via):
    services.charge_mark_refunded(actor=Actor.for_membership(owner), charge=paid_charge, via=via)
    invoice = assert_within_paid(paid_charge.invoice)
    assert (invoice.status, invoice.amount_refunded) == ("refunded", 10000)
    before = state(invoice)

    with pytest.raises(RefundRefused) as refused:
        returned(owner, invoice, 500)

    assert refused.value.refusal is Refusal.REFUNDS_EXCEED_PAID
    assert state(invoice) == before


def test_money_returned_on_a_never_paid_invoice_is_refused(org, owner, make_customer, make_invoice):
    customer, _ = make_customer(org)
    invoice = make_invoice(org, customer, total=15000)
    before = state(invoice)

    with pytest.raises(RefundRefused):
        returned(owner, invoice, 15000)

    assert state(invoice) == before


def test_money_returned_twice_for_one_payment_is_refused_the_second_time(org, owner, make_customer, make_invoice):
    """The bug seen: 300 shown refunded of 150 paid, on an invoice of 300 paid in part."""
    customer, _ = make_customer(org)
    invoice = make_invoice(org, customer, total=30000)
    services.charge_record(invoice=invoice, source="manual", amount=15000, reference="", actor=SYSTEM)
    returned(owner, invoice, 15000)
    before = state(invoice)
    with pytest.raises(RefundRefused):
        returned(owner, invoice, 15000)
    assert state(invoice) == before
    assert assert_within_paid(invoice).amount_refunded == 15000


def test_credit_note_without_money_returned_follows_only_the_invoice_total(owner, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge)
    services.credit_note_create(
        actor=Actor.for_membership(owner), invoice=paid_charge.invoice, amount=10000, reason="Credit only"
    )
    assert assert_within_paid(paid_charge.invoice).amount_refunded == 10000
    with pytest.raises(FlexbillError) as refused:
        services.credit_note_create(
            actor=Actor.for_membership(owner), invoice=paid_charge.invoice, amount=1, reason="Credit only"
        )
    assert refused.value.code == "amount_too_large"


def test_refund_through_stripe_is_refused_for_money_already_recorded_as_returned(owner, paid_charge):
    returned(owner, paid_charge.invoice, 7000)
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(actor=Actor.for_membership(owner), charge=reload(paid_charge), amount=3001)
    assert refused.value.refusal is Refusal.REFUNDS_EXCEED_PAID
    refund = services.refund_create(actor=Actor.for_membership(owner), charge=reload(paid_charge))
    assert refund.amount == 3000  # all that remains defaults to what the invoice may still refund
    invoice = assert_within_paid(paid_charge.invoice)
    assert invoice.amount_refunded == 10000


def test_refund_made_directly_in_stripe_after_a_credit_note_is_recorded_and_the_invoice_shows_it_fully_refunded(
    org, owner, paid_charge
):
    returned(owner, paid_charge.invoice, 6000)
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=10000)
    reconcile_organization(org)

    assert reload(paid_charge).amount_refunded == 10000  # what Stripe did is recorded as it is
    invoice = assert_within_paid(paid_charge.invoice)
    assert (invoice.status, invoice.amount_paid, invoice.amount_refunded) == ("refunded", 10000, 10000)
    event = AuditEvent.objects.filter(object_type="invoice", object_id=str(invoice.pk)).order_by("id").last()
    assert event.message.endswith(
        "Money returned exceeds what was paid by 6000 (refunded directly in Stripe after it had been recorded as "
        "returned); the invoice shows it fully refunded."
    )


def test_database_refuses_an_invoice_showing_more_refunded_than_paid(paid_charge):
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=paid_charge.invoice_id).update(amount_refunded=F("amount_paid") + 1)


# Any sequence of operations on one invoice --------------------------------------------------------------------
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("pay_stripe"), st.integers(1, 6000)),
        st.tuples(st.just("pay_recorded"), st.integers(1, 6000)),
        st.tuples(st.just("refund"), st.integers(0, 3), st.none() | st.integers(1, 6000)),
        st.tuples(st.just("refund_in_stripe"), st.integers(0, 3), st.integers(1, 6000)),
        st.tuples(st.just("mark"), st.integers(0, 3), st.sampled_from(["status", "delete"])),
        st.tuples(st.just("credit_note"), st.integers(1, 12000), st.booleans()),
    ),
    min_size=1,
    max_size=8,
)


def apply(operation, *, org, owner, invoice, method):
    kind, *args = operation
    charges = list(Charge.objects.filter(invoice=invoice).order_by("id"))
    if kind == "pay_stripe":
        services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, amount=args[0], actor=SYSTEM)
    elif kind == "pay_recorded":
        services.charge_record(invoice=invoice, source="manual", amount=args[0], reference="", actor=SYSTEM)
    elif kind == "credit_note":
        amount, with_money = args
        services.credit_note_create(
            actor=Actor.for_membership(owner),
            invoice=invoice,
            amount=amount,
            reason="Sequence",
            refund_method="cash" if with_money else "",
        )
    elif charges:
        charge = charges[args[0] % len(charges)]
        if kind == "refund":
            services.refund_create(actor=Actor.for_membership(owner), charge=charge, amount=args[1])
        elif kind == "mark":
            services.charge_mark_refunded(actor=Actor.for_membership(owner), charge=charge, via=args[1])
        elif charge.stripe_charge_id:  # refund_in_stripe: what Stripe allows, flexbill must record
            left = charge.amount - charge.amount_refunded
            if left:
                stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=min(args[1], left))
                reconcile_organization(org)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_any_sequence_of_payments_refunds_marks_and_credit_notes_keeps_refunded_within_paid(
    org, owner, make_customer, make_invoice, operations
):
    customer, method = make_customer(org)
    invoice = make_invoice(org, customer, total=12000)
    for operation in operations:
        before = state(invoice)
        try:
            apply(operation, org=org, owner=owner, invoice=reload(invoice), method=method)
        except FlexbillError:
            assert state(invoice) == before, operation  # a refusal changes nothing
        current = assert_within_paid(invoice)
        charges = list(current.charges.all())
        figures = invoice_figures(current, charges)
        assert current.amount_paid == figures.paid
        assert current.amount_refunded == figures.refunded
        assert current.status == rules.invoice_status(
            current=current.status,
            total=current.total,
            charge_statuses=[c.status for c in charges],
            amount_paid=figures.paid,
        )
        # Only money that came in is ever marked refunded.
        assert all(c.payment_status == "success" for c in charges if c.marked_refunded_at is not None)
