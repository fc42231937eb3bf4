"""What issuing a credit note leaves behind, exactly: the refusal (code and sentence) for each bad request or each
credit beyond what the invoice allows, the note's number, fields and audit event, and the note a refund asked for."""

import datetime

import pytest

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import Actor
from flexbill.billing import services
from flexbill.billing.models import CreditNote
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.errors import Conflict, InvalidInput, PermissionDenied


def note_events(note) -> list[tuple]:
    events = AuditEvent.objects.filter(object_type="creditnote", object_id=str(note.pk)).order_by("id")
    return [(e.action, e.before, e.after, e.message, e.invoice_id, e.actor_user_id) for e in events]


def credit(owner, invoice, amount=1000, reason="Goodwill", **fields):
    return services.credit_note_create(
        actor=Actor.for_membership(owner), invoice=invoice, amount=amount, reason=reason, **fields
    )


@pytest.mark.parametrize(
    ("fields", "code", "detail"),
    [
        ({"reason": ""}, "reason_invalid", "A credit note needs a reason of at most 500 characters."),
        ({"reason": "   "}, "reason_invalid", "A credit note needs a reason of at most 500 characters."),
        ({"reason": None}, "reason_invalid", "A credit note needs a reason of at most 500 characters."),
        ({"reason": "R" * 501}, "reason_invalid", "A credit note needs a reason of at most 500 characters."),
        (
            {"refund_method": "paypal"},
            "refund_method_invalid",
            "refund.method must be one of bank_transfer, cash, check, card_terminal, other.",
        ),
        (
            {"refund_method": "cash", "refund_reference": "T" * 256},
            "reference_invalid",
            "refund.reference must be at most 255 characters.",
        ),
    ],
)
def test_a_credit_note_with_bad_input_is_refused_with_its_code_and_sentence(owner, paid_charge, fields, code, detail):
    with pytest.raises(InvalidInput) as refused:
        credit(owner, paid_charge.invoice, **fields)

    assert (refused.value.code, refused.value.detail) == (code, detail)
    assert not CreditNote.objects.exists()


def test_a_reason_of_500_characters_and_a_reference_of_255_are_kept_trimmed(owner, paid_charge):
    note = credit(
        owner, paid_charge.invoice, reason=" " + "R" * 500 + " ", refund_method="cash", refund_reference="T" * 255
    )
    stored = CreditNote.objects.get(pk=note.pk)
    assert (stored.reason, stored.refund_reference) == ("R" * 500, "T" * 255)


def test_issuing_a_credit_note_needs_its_permission(org, make_member, paid_charge):
    member = make_member(org, "member")
    with pytest.raises(PermissionDenied) as refused:
        credit(member, paid_charge.invoice)
    assert refused.value.detail == Refusal.PERMISSION_DENIED.sentence
    assert not CreditNote.objects.exists()


def test_credit_notes_never_exceed_the_invoice_total_and_say_what_can_still_be_credited(owner, paid_charge):
    credit(owner, paid_charge.invoice, amount=9000)
    credit(owner, paid_charge.invoice, amount=500)

    with pytest.raises(Conflict) as refused:
        credit(owner, paid_charge.invoice, amount=501)

    assert (refused.value.code, refused.value.detail) == (
        "amount_too_large",
        "Credit notes on this invoice would exceed its total (10000); 500 can still be credited.",
    )
    credit(owner, paid_charge.invoice, amount=500)  # exactly the total is allowed


@pytest.mark.parametrize(
    ("before", "amount", "detail"),
    [
        (
            "unpaid",
            1,
            "Nothing has been paid on this invoice, so no money can be recorded as returned. "
            "Issue the credit note without money returned.",
        ),
        (
            "all_returned",
            1,
            "Nothing is left to refund on this invoice: the 10000 paid is already refunded or being refunded. "
            "Issue the credit note without money returned, or correct the earlier refund.",
        ),
        (
            "part_returned",
            6001,
            "This would record more refunded than was paid: only 6000 of the 10000 paid can still be recorded as "
            "returned.",
        ),
    ],
)
def test_money_returned_beyond_what_was_paid_is_refused_saying_what_may_still_be_recorded(
    org, owner, paid_charge, make_customer, make_invoice, before, amount, detail
):
    invoice = paid_charge.invoice
    if before == "unpaid":
        customer, _ = make_customer(org)
        invoice = make_invoice(org, customer)
    elif before == "all_returned":
        services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge)
    else:
        credit(owner, invoice, amount=4000, refund_method="cash")
    count = CreditNote.objects.count()

    with pytest.raises(RefundRefused) as refused:
        credit(owner, invoice, amount=amount, refund_method="bank_transfer")

    assert refused.value.refusal is Refusal.REFUNDS_EXCEED_PAID
    assert refused.value.detail == detail
    assert CreditNote.objects.count() == count


def test_a_credit_note_recording_money_returned_keeps_its_method_reference_and_date_and_is_audited(owner, paid_charge):
    day = datetime.date(2025, 3, 14)

    note = credit(
        owner, paid_charge.invoice, amount=1500, refund_method="check", refund_reference=" CHQ-7 ", refunded_on=day
    )

    stored = CreditNote.objects.get(pk=note.pk)
    assert stored.number == f"CN-{note.pk:06d}"
    assert (stored.amount, stored.currency, stored.reason, stored.created_by_id) == (
        1500,
        paid_charge.invoice.currency,
        "Goodwill",
        owner.user.pk,
    )
    assert (stored.refund_method, stored.refund_reference, stored.refunded_on, stored.refund_id) == (
        "check",
        "CHQ-7",
        day,
        None,
    )
    assert note_events(note) == [
        (
            "credit_note.created",
            None,
            {
                "number": stored.number,
                "amount": 1500,
                "refund_method": "check",
                "refund_reference": "CHQ-7",
                "refund": None,
            },
            "Goodwill",
            paid_charge.invoice_id,
            owner.user.pk,
        )
    ]


def test_a_credit_note_without_money_returned_has_no_refund_date(owner, paid_charge):
    note = credit(owner, paid_charge.invoice, refunded_on=datetime.date(2025, 3, 14))
    assert CreditNote.objects.get(pk=note.pk).refunded_on is None


def test_the_credit_note_a_refund_asked_for_names_the_refund_and_is_audited(owner, paid_charge):
    refund = services.refund_create(
        actor=Actor.for_membership(owner), charge=paid_charge, amount=2500, reason="duplicate", credit_note=True
    )

    note = CreditNote.objects.get(refund=refund)
    assert (note.amount, note.reason, note.number) == (
        2500,
        f"Refund {refund.pk} through Stripe (duplicate)",
        f"CN-{note.pk:06d}",
    )
    [event] = note_events(note)
    assert event[:5] == (
        "credit_note.created",
        None,
        {"number": note.number, "amount": 2500, "refund_method": "", "refund_reference": "", "refund": refund.pk},
        f"Refund {refund.pk} through Stripe (duplicate)",
        paid_charge.invoice_id,
    )


def test_the_credit_note_a_refund_asked_for_credits_only_what_is_left_down_to_the_last_minor_unit(owner, paid_charge):
    credit(owner, paid_charge.invoice, amount=9999)

    refund = services.refund_create(
        actor=Actor.for_membership(owner), charge=paid_charge, amount=2500, credit_note=True
    )
    nothing_left = services.refund_create(
        actor=Actor.for_membership(owner), charge=paid_charge, amount=2500, credit_note=True
    )

    assert CreditNote.objects.get(refund=refund).amount == 1
    assert not CreditNote.objects.filter(refund=nothing_left).exists()  # never a credit note of nothing


@pytest.mark.parametrize("reference", [{}, {"refund_reference": None}, {"refund_reference": ""}])
def test_money_returned_without_a_reference_is_recorded_with_none(owner, paid_charge, reference):
    note = credit(owner, paid_charge.invoice, refund_method="cash", **reference)
    assert CreditNote.objects.get(pk=note.pk).refund_reference == ""
