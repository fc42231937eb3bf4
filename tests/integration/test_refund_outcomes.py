"""What follows from a refund's outcome in Stripe, reached through the real triggers (the refund service, Stripe's
state and reconcile), never by setting a status by hand: e-mails, requested credit notes, amounts and statuses."""

import pytest
from django.core import mail

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, CreditNote, Invoice, Refund
from flexbill.billing.services.reconcile import reconcile_organization
from stripe_events import stripe_refund_for_reference, stripe_refund_set_status


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def _requested_refund(org, charge, *, amount: int, credit_note: bool = False) -> Refund:
    """A refund flexbill recorded and whose Stripe answer it never stored (a crash or timeout after the call)."""
    refund = Refund.objects.create(
        organization=org,
        charge=charge,
        amount=amount,
        currency=charge.currency,
        status="requested",
        origin="app",
        credit_note_requested=credit_note,
    )
    services.charge_refresh(charge=charge, actor=SYSTEM)
    return refund


def test_a_refund_that_fails_in_stripe_emails_the_billing_admins_once_through_reconcile(
    org, owner, make_member, paid_charge, django_capture_on_commit_callbacks
):
    clerk = make_member(org, "clerk")
    make_member(org, "member")  # may only look: hears nothing
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=3000)
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]  # the customer hears of the success

    stripe_refund_set_status(org, refund.stripe_refund_id, "failed")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            reconcile_organization(org)

    failed = [m for m in mail.outbox if m.to != ["ada@example.com"]]
    assert len(failed) == 1
    assert sorted(failed[0].to) == sorted([owner.user.email, clerk.user.email])
    assert fresh(refund).status == "failed"
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded, charge.amount_reserved) == ("success", 0, 0)


def test_a_refund_that_asked_for_a_credit_note_and_failed_in_stripe_issues_none(org, paid_charge):
    refund = _requested_refund(org, paid_charge, amount=2500, credit_note=True)
    stripe_id = stripe_refund_for_reference(
        org, charge_id=paid_charge.stripe_charge_id, amount=2500, reference=refund.reference
    )
    stripe_refund_set_status(org, stripe_id, "failed")

    reconcile_organization(org)

    assert (fresh(refund).status, fresh(refund).stripe_refund_id) == ("failed", stripe_id)
    assert not CreditNote.objects.exists()
    assert fresh(paid_charge.invoice).amount_refunded == 0


def test_a_refund_that_asked_for_a_credit_note_issues_it_once_when_stripe_reports_success(org, paid_charge):
    refund = _requested_refund(org, paid_charge, amount=2500, credit_note=True)
    stripe_refund_for_reference(org, charge_id=paid_charge.stripe_charge_id, amount=2500, reference=refund.reference)

    reconcile_organization(org)
    reconcile_organization(org)

    note = CreditNote.objects.get()
    assert (note.amount, note.refund_id) == (2500, refund.pk)


def test_a_pending_refund_in_stripe_stays_reserved_and_is_not_counted_as_refunded(org, owner, paid_charge):
    refund = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=4000)
    stripe_refund_set_status(org, refund.stripe_refund_id, "pending")

    reconcile_organization(org)

    charge = fresh(paid_charge)
    assert (fresh(refund).status, charge.amount_refunded, charge.amount_reserved) == ("pending", 0, 4000)
    assert charge.refundable_amount == paid_charge.amount - 4000
    with pytest.raises(Exception):  # noqa: B017 - the reservation is what refuses: any refusal type will do
        services.refund_create(actor=Actor.for_membership(owner), charge=charge, amount=paid_charge.amount - 3999)


def test_amount_paid_stays_what_was_paid_after_a_partial_refund_and_after_a_mark(org, owner, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=1500)
    invoice = fresh(paid_charge.invoice)
    assert (invoice.amount_paid, invoice.amount_refunded, invoice.status) == (paid_charge.amount, 1500, "paid")

    services.charge_mark_refunded(actor=Actor.for_membership(owner), charge=fresh(paid_charge), via="status")

    invoice = fresh(paid_charge.invoice)
    assert (invoice.amount_paid, invoice.status) == (paid_charge.amount, "refunded")
    assert Charge.objects.get(pk=paid_charge.pk).status == "refunded"
    assert Invoice.objects.filter(pk=invoice.pk, amount_paid=paid_charge.amount).exists()


def test_a_refund_status_flexbill_does_not_know_is_held_as_pending_never_as_refunded(org, owner, paid_charge):
    refund = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=4000)
    stripe_refund_set_status(org, refund.stripe_refund_id, "some_future_status")

    reconcile_organization(org)

    charge = fresh(paid_charge)
    assert (fresh(refund).status, charge.amount_refunded, charge.amount_reserved) == ("pending", 0, 4000)


def test_stripe_reporting_more_refunded_than_the_charge_records_nothing_and_is_reported(org, paid_charge):
    from flexbill_demo.stripe_dashboard import stripe_refund_directly

    for _ in range(2):  # the local Stripe, unlike Stripe, accepts refunds beyond the charge
        stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=paid_charge.amount)

    report = reconcile_organization(org)

    assert len(report.errors) == 1 and str(paid_charge.pk) in report.errors[0]
    assert not Refund.objects.exists()
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded) == ("success", 0)
