"""Charge and invoice state derived from refunds and marks is audited exactly: one event per object whose status or
amounts changed, saying what it was and what it became, linked to the invoice, with the message of the change."""

import pytest

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import Actor
from flexbill.billing import services
from flexbill.billing.models import Invoice
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.errors import PermissionDenied


def derived_trail(invoice_id: int, after_id: int) -> list[tuple]:
    """The charge and invoice events of this invoice since event `after_id`, as (object, action, before, after,
    message); refund events belong to the Stripe apply path and are proved there."""
    events = AuditEvent.objects.filter(
        invoice_id=invoice_id, object_type__in=("charge", "invoice"), id__gt=after_id
    ).order_by("id")
    return [(e.object_type, e.action, e.before, e.after, e.message) for e in events]


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_a_partial_refund_audits_the_charge_and_invoice_amounts_it_changed_and_nothing_else(owner, paid_charge):
    start = last_event_id()

    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=4000)

    # Reserving the 4000 changed neither status nor amount refunded: no charge event until Stripe confirmed it.
    assert derived_trail(paid_charge.invoice_id, start) == [
        (
            "charge",
            "charge.updated",
            {"status": "success", "amount_refunded": 0, "amount_reserved": 4000},
            {"status": "success", "amount_refunded": 4000, "amount_reserved": 4000},
            "",
        ),
        (
            "invoice",
            "invoice.updated",
            {"status": "paid", "amount_paid": 10000, "amount_refunded": 0},
            {"status": "paid", "amount_paid": 10000, "amount_refunded": 4000},
            "",
        ),
    ]


@pytest.mark.parametrize(("via", "what"), [("status", "Status changed to Refunded"), ("delete", "Deleted")])
def test_marking_a_charge_refunded_audits_the_charge_and_invoice_with_the_reason_no_money_moved(
    owner, paid_charge, via, what
):
    start = last_event_id()

    services.charge_mark_refunded(actor=Actor.for_membership(owner), charge=paid_charge, via=via)

    message = "Marked refunded, no money moved."
    trail = derived_trail(paid_charge.invoice_id, start)
    assert trail[0] == (
        "charge",
        "charge.marked_refunded",
        {"status": "success", "amount_refunded": 0, "amount_reserved": 0},
        {"status": "refunded", "amount_refunded": 0, "amount_reserved": 0},
        f"{what}: marked refunded, no money moved.",
    )
    assert trail[1:] == [
        (
            "charge",
            "charge.updated",
            {"status": "success", "amount_refunded": 0, "amount_reserved": 0},
            {"status": "refunded", "amount_refunded": 0, "amount_reserved": 0},
            message,
        ),
        (
            "invoice",
            "invoice.updated",
            {"status": "paid", "amount_paid": 10000, "amount_refunded": 0},
            {"status": "refunded", "amount_paid": 10000, "amount_refunded": 10000},
            message,
        ),
    ]


def test_money_returned_by_credit_note_audits_the_invoice_amount_refunded_it_changed(owner, paid_charge):
    start = last_event_id()

    services.credit_note_create(
        actor=Actor.for_membership(owner),
        invoice=paid_charge.invoice,
        amount=3000,
        reason="Goodwill",
        refund_method="bank_transfer",
    )

    assert derived_trail(paid_charge.invoice_id, start) == [
        (
            "invoice",
            "invoice.updated",
            {"status": "paid", "amount_paid": 10000, "amount_refunded": 0},
            {"status": "paid", "amount_paid": 10000, "amount_refunded": 3000},
            "",
        )
    ]


@pytest.mark.parametrize("status", ["draft", "voided"])
def test_a_credit_note_leaves_a_draft_or_voided_invoice_as_it_is(org, owner, make_customer, make_invoice, status):
    customer, _ = make_customer(org)
    invoice = make_invoice(org, customer)
    Invoice.objects.filter(pk=invoice.pk).update(status=status)
    start = last_event_id()

    services.credit_note_create(
        actor=Actor.for_membership(owner), invoice=invoice, amount=1000, reason="Price agreed lower"
    )

    assert Invoice.objects.get(pk=invoice.pk).status == status
    assert derived_trail(invoice.pk, start) == []


def test_marking_refunded_is_refused_when_a_credit_note_already_recorded_the_money_as_returned(owner, paid_charge):
    services.credit_note_create(
        actor=Actor.for_membership(owner),
        invoice=paid_charge.invoice,
        amount=1,
        reason="Cash back",
        refund_method="cash",
    )

    with pytest.raises(RefundRefused) as refused:
        services.charge_mark_refunded(actor=Actor.for_membership(owner), charge=paid_charge, via="status")

    assert refused.value.refusal is Refusal.REFUNDS_EXCEED_PAID


def test_marking_refunded_without_its_permission_is_refused_with_the_permission_sentence(org, make_member, paid_charge):
    with pytest.raises(PermissionDenied) as refused:
        services.charge_mark_refunded(
            actor=Actor.for_membership(make_member(org, "member")), charge=paid_charge, via="delete"
        )
    assert refused.value.detail == Refusal.PERMISSION_DENIED.sentence
