"""Reconcile settles what webhooks missed and what a crash left "requested" (docs/rules.md, rule 11)."""

import io
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, Refund
from flexbill.billing.services.reconcile import reconcile_organization
from flexbill.stripe_gateway.client import StripeGateway
from flexbill.stripe_gateway.types import RefundInfo
from flexbill_demo.stripe_dashboard import stripe_refund_directly
from stripe_events import (
    stripe_charge,
    stripe_charge_outside_flexbill,
    stripe_refund_for_reference,
    stripe_refund_set_status,
)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def requested_refund(charge, amount: int, *, age: timedelta = timedelta(0)) -> Refund:
    """A refund flexbill recorded (and reserved) before a crash kept it from hearing back from Stripe."""
    refund = Refund.objects.create(
        organization_id=charge.organization_id,
        charge=charge,
        amount=amount,
        currency=charge.currency,
        status="requested",
        origin="app",
    )
    if age:
        Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - age)
    services.charge_refresh(charge=fresh(charge), actor=SYSTEM)
    return fresh(refund)


def test_reconcile_records_a_refund_whose_webhook_never_came_and_a_second_run_changes_nothing(org, make_paid_charge):
    refunded, untouched = make_paid_charge(org, amount=10000), make_paid_charge(org, amount=10000)
    stripe_id = stripe_refund_directly(org, charge_id=refunded.stripe_charge_id, amount=2500)
    stripe_refund_directly(org, charge_id=stripe_charge_outside_flexbill(org))

    report = reconcile_organization(org)

    assert (report.refunds_created, report.refunds_updated, report.requested_settled) == (1, 0, 0)
    assert report.changed == 1
    assert report.unknown_charges == 1
    assert report.charges_checked == 1
    assert report.stripe_refunds_seen >= 2
    assert not report.errors
    refund = Refund.objects.get()
    assert (refund.stripe_refund_id, refund.origin, refund.amount, refund.status) == (
        stripe_id,
        "stripe",
        2500,
        "succeeded",
    )
    charge = fresh(refunded)
    assert charge.amount_refunded == stripe_charge(org, charge.stripe_charge_id)["amount_refunded"] == 2500
    assert fresh(charge.invoice).status == "paid"
    assert fresh(untouched).amount_refunded == 0

    again = reconcile_organization(org)

    assert again.changed == 0
    assert Refund.objects.count() == 1
    assert fresh(refunded).amount_refunded == 2500


def test_reconcile_catches_a_full_refund_in_stripe_and_refunds_the_charge_and_invoice(org, paid_charge):
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)

    report = reconcile_organization(org)

    assert report.refunds_created == 1
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded) == ("refunded", paid_charge.amount)
    assert fresh(charge.invoice).status == "refunded"


def test_reconcile_applies_a_refund_failure_webhooks_missed(org, owner, paid_charge):
    issued = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=paid_charge.amount)
    assert fresh(paid_charge).status == "refunded"
    stripe_refund_set_status(org, issued.stripe_refund_id, "failed")

    report = reconcile_organization(org)

    assert (report.refunds_created, report.refunds_updated) == (0, 1)
    assert fresh(issued).status == "failed"
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded) == ("success", 0)
    assert fresh(charge.invoice).status == "paid"
    assert reconcile_organization(org).changed == 0


def test_reconcile_settles_a_requested_refund_left_by_a_crash_by_adopting_stripes_refund(org, paid_charge):
    refund = requested_refund(paid_charge, 4000)
    stripe_id = stripe_refund_for_reference(
        org, charge_id=paid_charge.stripe_charge_id, amount=4000, reference=refund.reference
    )

    report = reconcile_organization(org)

    assert report.changed == 1
    assert report.refunds_created == 0
    settled = Refund.objects.get()
    assert (settled.pk, settled.status, settled.stripe_refund_id, settled.origin) == (
        refund.pk,
        "succeeded",
        stripe_id,
        "app",
    )
    charge = fresh(paid_charge)
    assert (charge.amount_refunded, charge.amount_reserved) == (4000, 4000)
    assert reconcile_organization(org).changed == 0


def test_requested_refund_with_no_trace_in_stripe_is_canceled_after_the_grace_period(org, paid_charge, settings):
    grace = timedelta(seconds=settings.FLEXBILL_REQUESTED_REFUND_GRACE_SECONDS)
    stale = requested_refund(paid_charge, 4000, age=grace + timedelta(minutes=1))
    recent = requested_refund(paid_charge, 3000)
    assert fresh(paid_charge).amount_reserved == 7000

    report = reconcile_organization(org)

    assert report.requested_settled == 1
    assert fresh(stale).status == "canceled"
    assert fresh(recent).status == "requested"  # may still be on its way to Stripe
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded, charge.amount_reserved) == ("success", 0, 3000)


def test_reconcile_command_prints_a_summary_of_what_changed(org, paid_charge):
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=1500)
    out = io.StringIO()

    call_command("reconcile", org=org.slug, stdout=out)

    text = out.getvalue()
    assert f"Reconcile {org.slug}" in text
    assert "Refunds recorded (made in Stripe)" in text
    assert "1 change(s)." in text
    assert fresh(paid_charge).amount_refunded == 1500

    out = io.StringIO()
    call_command("reconcile", org=org.slug, stdout=out)
    assert "Nothing to change" in out.getvalue()


def test_reconcile_command_refuses_an_unknown_organization(db):
    with pytest.raises(CommandError):
        call_command("reconcile", org="no-such-workspace", stdout=io.StringIO())


def test_reconcile_touches_only_its_own_organizations_charges(org, make_org, paid_charge):
    other_org = make_org()
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)

    report = reconcile_organization(other_org)

    assert report.changed == 0
    assert not Refund.objects.exists()
    assert fresh(paid_charge).amount_refunded == 0


def test_reconcile_command_fails_clearly_when_stripe_is_unreachable(org, paid_charge, settings):
    settings.FLEXBILL_STRIPE_API_BASE = "http://127.0.0.1:9"

    with pytest.raises(CommandError, match="Stripe could not be read"):
        call_command("reconcile", org=org.slug, stdout=io.StringIO())


def test_reconcile_command_refuses_an_organization_whose_sync_is_off(org, paid_charge):
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)
    org.refund_sync_enabled = False
    org.save(update_fields=["refund_sync_enabled"])

    with pytest.raises(CommandError, match="turned off"):
        call_command("reconcile", org=org.slug, stdout=io.StringIO())
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    ("iban", "settled_as", "invoice_status"),
    [("DE62370400440532013001", "failed", "failed"), ("DE89370400440532013000", "success", "paid")],
)
def test_reconcile_settles_a_sepa_debit_left_pending(
    org, make_customer, make_invoice, iban, settled_as, invoice_status
):
    from flexbill.stripe_gateway.client import gateway_for
    from flexbill_demo.stripe_dashboard import stripe_payment_method_create

    customer, _ = make_customer(org)
    method = services.payment_method_add(
        customer=customer,
        stripe_payment_method=stripe_payment_method_create(org, iban=iban, name="Ada", email="ada@example.com"),
        actor=SYSTEM,
    )
    invoice = make_invoice(org, customer, total=5000, payment_method="stripe_sepa", currency="eur")
    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)
    # However the debit started, flexbill holds it as pending until Stripe settles it.
    charge.__class__.objects.filter(pk=charge.pk).update(payment_status="pending", status="pending")
    services.invoice_refresh(invoice=fresh(invoice), actor=SYSTEM)
    deadline = timezone.now() + timedelta(seconds=10)
    while gateway_for(org).payment_intent_status(charge.stripe_payment_intent_id).status == "pending":
        assert timezone.now() < deadline, "the local Stripe did not settle the debit"
        time.sleep(0.1)

    report = reconcile_organization(org)

    assert report.payments_settled == 1
    assert fresh(charge).status == settled_as
    assert fresh(invoice).status == invoice_status
    assert reconcile_organization(org).payments_settled == 0


def test_a_refund_naming_no_charge_is_matched_by_its_payment_intent_never_by_a_missing_charge_id(
    org, make_paid_charge, monkeypatch
):
    # Charge A is known only by its PaymentIntent (its charge id not yet stored); Stripe's refund of charge B names
    # B's PaymentIntent and no charge. An empty charge id must match nothing, or B's refund would land on A.
    known_by_intent, other = make_paid_charge(org, amount=10000), make_paid_charge(org, amount=8000)
    Charge.objects.filter(pk=known_by_intent.pk).update(stripe_charge_id=None)
    page = [
        RefundInfo("re_a", None, known_by_intent.stripe_payment_intent_id, 1000, "eur", "succeeded"),
        RefundInfo("re_b", None, other.stripe_payment_intent_id, 3000, "eur", "succeeded"),
    ]
    monkeypatch.setattr(StripeGateway, "refund_pages", lambda self, **kwargs: iter([page]))

    report = reconcile_organization(org)

    assert (report.refunds_created, report.errors) == (2, [])
    assert {r.stripe_refund_id: r.charge_id for r in Refund.objects.all()} == {
        "re_a": known_by_intent.pk,
        "re_b": other.pk,
    }
    assert (fresh(known_by_intent).amount_refunded, fresh(other).amount_refunded) == (1000, 3000)
