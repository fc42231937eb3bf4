"""The set-based apply (billing/services/apply.py) and the per-row rules agree: after a batch of Stripe refund
snapshots over many charges and invoices, recomputing each charge and invoice one row at a time with
billing/rules.py (derive.charge_refresh / invoice_refresh) changes nothing, and every charge holds exactly
Stripe's refunds."""

import uuid
from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM
from flexbill.billing import rules
from flexbill.billing.models import Charge, Customer, Invoice, Refund
from flexbill.billing.services import charge_refresh, invoice_refresh
from flexbill.billing.services.apply import ChargeRefunds, charges_apply_stripe_refunds
from flexbill.stripe_gateway.types import RefundInfo

pytestmark = [pytest.mark.nostripe, pytest.mark.django_db]

LOCAL_STATUSES = ["requested", "pending", "succeeded", "failed", "canceled"]
STRIPE_STATUSES = ["pending", "succeeded", "failed", "canceled", "requires_action"]

refund_amounts = st.integers(min_value=1, max_value=4000)
charge_plan = st.fixed_dictionaries(
    {
        "amount": st.integers(min_value=1000, max_value=12000),
        # refunds flexbill holds already: (amount, status); all but "requested" ones carry Stripe's id
        "local": st.lists(st.tuples(refund_amounts, st.sampled_from(LOCAL_STATUSES)), max_size=3),
        # Stripe's refunds made outside flexbill: (amount, status)
        "stripe_only": st.lists(st.tuples(refund_amounts, st.sampled_from(STRIPE_STATUSES)), max_size=3),
        # Stripe's status now for each refund flexbill holds that Stripe knows
        "moves": st.lists(st.sampled_from(STRIPE_STATUSES), min_size=3, max_size=3),
        "complete": st.booleans(),
    }
)
invoice_plan = st.lists(charge_plan, min_size=1, max_size=3)


def _build(organization, invoices) -> list[ChargeRefunds]:
    customer = Customer.objects.create(organization=organization, name="Ada", email="ada@example.com")
    snapshots = []
    for plans in invoices:
        invoice = Invoice.objects.create(
            organization=organization,
            number=f"INV-{uuid.uuid4().hex[:10]}",
            customer=customer,
            currency="usd",
            total=sum(p["amount"] for p in plans),
            payment_method="stripe_card",
            issued_on=date.today(),
        )
        for plan in plans:
            charge = Charge.objects.create(
                organization=organization,
                invoice=invoice,
                amount=plan["amount"],
                currency="usd",
                source="stripe",
                payment_status="success",
                status="success",
                stripe_charge_id=f"ch_{uuid.uuid4().hex}",
                charged_at=timezone.now(),
            )
            infos, reserved = [], 0
            for n, (amount, status) in enumerate(plan["local"]):
                if status in rules.RESERVING_REFUND_STATUSES:
                    if reserved + amount > charge.amount:
                        continue  # flexbill itself never holds more than the charge
                    reserved += amount
                stripe_id = None if status == "requested" else f"re_{uuid.uuid4().hex}"
                Refund.objects.create(
                    organization=organization,
                    charge=charge,
                    amount=amount,
                    currency="usd",
                    status=status,
                    origin="app",
                    stripe_refund_id=stripe_id,
                    stripe_synced_at=timezone.now() - timedelta(hours=1) if stripe_id else None,
                )
                if stripe_id:
                    infos.append(_info(stripe_id, charge, amount, plan["moves"][n]))
            charge_refresh(charge=charge, actor=SYSTEM)
            for amount, status in plan["stripe_only"]:
                infos.append(_info(f"re_{uuid.uuid4().hex}", charge, amount, status))
            snapshots.append(ChargeRefunds(charge_id=charge.pk, refunds=infos, complete=plan["complete"]))
        invoice_refresh(invoice=Invoice.objects.get(pk=invoice.pk), actor=SYSTEM)
    return snapshots


def _info(stripe_id, charge, amount, status) -> RefundInfo:
    return RefundInfo(
        id=stripe_id,
        charge_id=charge.stripe_charge_id,
        payment_intent_id=None,
        amount=amount,
        currency="usd",
        status=status,
    )


def _stripe_truth_fits(snapshot: ChargeRefunds, charge: Charge) -> bool:
    """Stripe never holds more refunds than the charge; plans that say otherwise are not Stripe's truth."""
    reserving = sum(r.amount for r in snapshot.refunds if r.status in rules.RESERVING_REFUND_STATUSES)
    return reserving <= charge.amount


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(invoices=st.lists(invoice_plan, min_size=1, max_size=3))
def test_set_based_apply_and_per_row_rules_agree(org, invoices):
    with transaction.atomic():
        snapshots = _build(org, invoices)
        charges = {c.pk: c for c in Charge.objects.filter(pk__in=[s.charge_id for s in snapshots])}

        result = charges_apply_stripe_refunds(snapshots=snapshots, read_at=timezone.now())

        audits = AuditEvent.objects.count()
        for snapshot in snapshots:
            charge = Charge.objects.get(pk=snapshot.charge_id)
            refunds = list(charge.refunds.all())
            written = snapshot.charge_id not in result.refused + result.incomplete
            if _stripe_truth_fits(snapshot, charges[snapshot.charge_id]) and snapshot.complete:
                assert written, (snapshot, result)
            if written:
                held = {r.stripe_refund_id: r.status for r in refunds if r.stripe_refund_id}
                assert all(held[i.id] == i.status for i in snapshot.refunds)
            refunded, reserved = rules.refund_totals(refunds)
            assert (charge.amount_refunded, charge.amount_reserved) == (refunded, reserved)
            assert reserved <= charge.amount
            # The per-row path, on what the set-based path wrote, finds nothing to change.
            before = (charge.status, charge.amount_refunded, charge.amount_reserved)
            charge_refresh(charge=charge, actor=SYSTEM)
            assert (charge.status, charge.amount_refunded, charge.amount_reserved) == before
        for invoice in Invoice.objects.filter(charges__pk__in=[s.charge_id for s in snapshots]).distinct():
            before = (invoice.status, invoice.amount_paid, invoice.amount_refunded)
            invoice_refresh(invoice=invoice, actor=SYSTEM)
            assert (invoice.status, invoice.amount_paid, invoice.amount_refunded) == before
        assert AuditEvent.objects.count() == audits  # the per-row path wrote nothing: nothing was left to derive
        transaction.set_rollback(True)
