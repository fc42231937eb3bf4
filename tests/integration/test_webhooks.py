"""Refunds made or reported in Stripe arrive through signed webhooks (docs/rules.md, rules 6, 7 and 9): each
delivery is stored in the inbox and answered at once; the worker's inbox_apply_pending applies it."""

import random
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, Invoice, Refund, WebhookEvent
from flexbill.billing.services import inbox_apply_pending
from flexbill_demo.stripe_dashboard import stripe_refund_directly
from stripe_events import (
    BAD_DELIVERIES,
    charge_event,
    deliver,
    deliver_bad,
    refund_event,
    stripe_charge,
    stripe_charge_outside_flexbill,
    stripe_refund_for_reference,
    stripe_refund_set_status,
    stripe_refunds_of_charge,
)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def deliver_and_apply(client, organization, evt):
    """A delivery acknowledged with 200, then the worker's pass over the inbox."""
    response = deliver(client, organization, evt)
    assert response.status_code == 200, response.content
    inbox_apply_pending()
    return response


@pytest.fixture
def client():
    return Client()


def test_refund_made_in_stripe_arrives_as_refunded_with_origin_stripe(client, org, paid_charge):
    stripe_refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)
    assert not Refund.objects.exists()  # the local Stripe sends no event of its own: only ours brings it in

    response = deliver_and_apply(client, org, charge_event(org, paid_charge.stripe_charge_id))

    assert response.status_code == 200, response.content
    refund = Refund.objects.get()
    assert (refund.origin, refund.status, refund.stripe_refund_id) == ("stripe", "succeeded", stripe_refund_id)
    assert refund.amount == paid_charge.amount
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded) == ("refunded", paid_charge.amount)
    assert fresh(charge.invoice).status == "refunded"
    assert AuditEvent.objects.filter(action="refund.synced", actor_type="stripe").count() == 1


def test_partial_refund_made_in_stripe_shows_amount_refunded_and_keeps_invoice_status(client, org, paid_charge):
    stripe_refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=3000)

    response = deliver_and_apply(client, org, refund_event(org, stripe_refund_id, "refund.created"))

    assert response.status_code == 200, response.content
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded) == ("success", 3000)
    invoice = fresh(charge.invoice)
    assert (invoice.status, invoice.amount_refunded) == ("paid", 3000)


def test_invoice_with_one_of_two_charges_refunded_in_stripe_is_refunded(client, org, make_customer, make_invoice):
    customer, method = make_customer(org)
    invoice = make_invoice(org, customer, total=10000)
    first, second = (
        services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, amount=5000, actor=SYSTEM)
        for _ in range(2)
    )
    assert fresh(invoice).status == "paid"
    stripe_refund_directly(org, charge_id=first.stripe_charge_id)

    response = deliver_and_apply(client, org, charge_event(org, first.stripe_charge_id))

    assert response.status_code == 200, response.content
    assert fresh(first).status == "refunded"
    assert fresh(second).status == "success"
    invoice = fresh(invoice)
    assert (invoice.status, invoice.amount_refunded) == ("refunded", 5000)


ORDERS = {
    "as_stripe_sends_them": ["refund.created", "charge.refunded", "charge.refund.updated", "redeliver"],
    "reversed": ["redeliver", "charge.refund.updated", "charge.refunded", "refund.created"],
    "redeliveries_interleaved": ["charge.refunded", "redeliver", "refund.created", "redeliver", "refund.updated"],
}


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_refund_issued_from_flexbill_and_reported_by_stripe_is_recorded_once(client, org, owner, paid_charge, order):
    issued = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=4000)
    assert issued.stripe_refund_id

    delivered = []
    for step in order:
        if step == "redeliver":
            evt = delivered[0] if delivered else charge_event(org, paid_charge.stripe_charge_id)
        elif step == "charge.refunded":
            evt = charge_event(org, paid_charge.stripe_charge_id)
        else:
            evt = refund_event(org, issued.stripe_refund_id, step)
        delivered.append(evt)
        response = deliver_and_apply(client, org, evt)
        assert response.status_code == 200, response.content

    refund = Refund.objects.get()
    assert (refund.pk, refund.origin, refund.amount, refund.status) == (issued.pk, "app", 4000, "succeeded")
    assert refund.stripe_refund_id == issued.stripe_refund_id
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded) == ("success", 4000)
    assert fresh(charge.invoice).amount_refunded == 4000


def test_webhook_adopts_a_refund_flexbill_left_requested_instead_of_recording_it_twice(client, org, paid_charge):
    # flexbill recorded the refund and crashed before storing Stripe's answer; Stripe reports the refund first.
    requested = Refund.objects.create(
        organization=org, charge=paid_charge, amount=2500, currency="usd", status="requested", origin="app"
    )
    services.charge_refresh(charge=paid_charge, actor=SYSTEM)
    stripe_id = stripe_refund_for_reference(
        org, charge_id=paid_charge.stripe_charge_id, amount=2500, reference=requested.reference
    )

    response = deliver_and_apply(client, org, refund_event(org, stripe_id, "refund.created"))

    assert response.status_code == 200, response.content
    refund = Refund.objects.get()
    assert (refund.pk, refund.status, refund.stripe_refund_id, refund.origin) == (
        requested.pk,
        "succeeded",
        stripe_id,
        "app",
    )
    assert fresh(paid_charge).amount_refunded == 2500


def test_refund_failing_after_success_turns_the_charge_back_to_success(client, org, paid_charge):
    stripe_refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)
    deliver_and_apply(client, org, charge_event(org, paid_charge.stripe_charge_id))
    assert fresh(paid_charge).status == "refunded"
    assert fresh(paid_charge.invoice).status == "refunded"

    stripe_refund_set_status(org, stripe_refund_id, "failed")
    response = deliver_and_apply(client, org, refund_event(org, stripe_refund_id, "refund.failed"))

    assert response.status_code == 200, response.content
    assert Refund.objects.get().status == "failed"
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded) == ("success", 0)
    invoice = fresh(charge.invoice)
    assert (invoice.status, invoice.amount_refunded) == ("paid", 0)


def test_pending_refund_in_stripe_is_recorded_pending_and_does_not_count_as_refunded(client, org, paid_charge):
    stripe_refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)
    stripe_refund_set_status(org, stripe_refund_id, "pending")

    deliver_and_apply(client, org, refund_event(org, stripe_refund_id, "refund.created"))

    assert Refund.objects.get().status == "pending"
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded, charge.amount_reserved) == ("success", 0, paid_charge.amount)


@pytest.mark.parametrize("kind", BAD_DELIVERIES)
def test_bad_delivery_is_refused_with_400_stored_unverified_and_changes_nothing(client, org, paid_charge, kind):
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)
    evt = charge_event(org, paid_charge.stripe_charge_id)

    response = deliver_bad(client, org, evt, kind)

    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    delivery = WebhookEvent.objects.get()
    assert (delivery.verified, delivery.processed_at, delivery.event_id) == (False, None, None)
    assert delivery.body  # stored raw, as received
    assert not Refund.objects.exists()
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded) == ("success", 0)
    assert fresh(charge.invoice).status == "paid"


def test_refund_events_change_nothing_when_the_organizations_sync_is_off(client, org, paid_charge):
    org.refund_sync_enabled = False
    org.save(update_fields=["refund_sync_enabled"])
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)

    response = deliver_and_apply(client, org, charge_event(org, paid_charge.stripe_charge_id))

    assert response.status_code == 200, response.content
    delivery = WebhookEvent.objects.get()
    assert delivery.verified and delivery.event_type == "charge.refunded"
    assert not Refund.objects.exists()
    assert fresh(paid_charge).status == "success"
    assert fresh(paid_charge.invoice).status == "paid"


def test_same_event_delivered_twice_is_stored_and_applied_once(client, org, paid_charge):
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=1000)
    evt = charge_event(org, paid_charge.stripe_charge_id)
    deliver_and_apply(client, org, evt)
    audit_count = AuditEvent.objects.count()
    # Stripe has moved on since: an event already received must not be applied again.
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=2000)

    response = deliver_and_apply(client, org, evt)

    assert "already received" in response.json()["detail"].lower()
    assert WebhookEvent.objects.filter(event_id=evt["id"]).count() == 1
    assert WebhookEvent.objects.get(event_id=evt["id"]).processed_at is not None
    assert list(Refund.objects.values_list("amount", flat=True)) == [1000]
    assert AuditEvent.objects.count() == audit_count


def test_event_for_a_charge_flexbill_never_knows_is_acknowledged_waits_then_is_ignored(
    client, org, paid_charge, settings
):
    settings.FLEXBILL_INBOX_UNKNOWN_CHARGE_ATTEMPTS = 2
    outside = stripe_charge_outside_flexbill(org)
    refund_id = stripe_refund_directly(org, charge_id=outside)
    for evt in (charge_event(org, outside), refund_event(org, refund_id, "refund.created")):
        deliver_and_apply(client, org, evt)
    waiting = WebhookEvent.objects.filter(verified=True)
    assert [(e.state, e.attempts) for e in waiting] == [("waiting", 1), ("waiting", 1)]
    assert all("No charge in flexbill" in e.last_error for e in waiting)

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        inbox_apply_pending()

    assert [e.state for e in WebhookEvent.objects.filter(verified=True)] == ["ignored", "ignored"]
    assert not Refund.objects.exists()
    assert fresh(paid_charge).amount_refunded == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_give_the_same_result_as_one_at_a_time(org, owner, make_paid_charge):
    charges = [make_paid_charge(org, amount=10000) for _ in range(3)]
    full = stripe_refund_directly(org, charge_id=charges[0].stripe_charge_id)
    partial = stripe_refund_directly(org, charge_id=charges[1].stripe_charge_id, amount=3000)
    issued = services.refund_create(actor=Actor.for_membership(owner), charge=charges[1], amount=2000)
    split = [stripe_refund_directly(org, charge_id=charges[2].stripe_charge_id, amount=a) for a in (1000, 2500)]
    events = [charge_event(org, c.stripe_charge_id) for c in charges]
    for refund_id in (full, partial, issued.stripe_refund_id, *split):
        events += [refund_event(org, refund_id, t) for t in ("refund.created", "refund.updated")]

    statuses, errors = [], []

    def deliver_all(seed: int) -> None:
        try:
            client, order = Client(), list(events)
            random.Random(seed).shuffle(order)
            for evt in order:
                statuses.append(deliver(client, org, evt).status_code)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_all, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    assert statuses == [200] * (len(events) * len(threads))
    stripe_ids = list(Refund.objects.values_list("stripe_refund_id", flat=True))
    assert len(stripe_ids) == len(set(stripe_ids)) == 5
    for charge in Charge.objects.all():
        in_stripe = stripe_refunds_of_charge(org, charge.stripe_charge_id)
        assert charge.amount_refunded == stripe_charge(org, charge.stripe_charge_id)["amount_refunded"]
        assert sorted(charge.refunds.values_list("stripe_refund_id", "amount", "status")) == sorted(
            (r["id"], r["amount"], r["status"]) for r in in_stripe
        )
    assert Refund.objects.get(pk=issued.pk).origin == "app"
    assert [c.status for c in Charge.objects.order_by("pk")] == ["refunded", "success", "success"]
    assert list(Invoice.objects.order_by("pk").values_list("status", flat=True)) == ["refunded", "paid", "paid"]
    assert WebhookEvent.objects.filter(processed_at__isnull=False).count() == len(events)


def test_event_matched_by_payment_intent_syncs_only_that_charges_refunds(client, org, make_paid_charge):
    # flexbill may know a charge by its PaymentIntent before it has stored Stripe's charge id.
    charge, other = make_paid_charge(org, amount=10000), make_paid_charge(org, amount=10000)
    stripe_charge_id = charge.stripe_charge_id
    Charge.objects.filter(pk=charge.pk).update(stripe_charge_id=None)
    own = stripe_refund_directly(org, charge_id=stripe_charge_id, amount=1000)
    stripe_refund_directly(org, charge_id=other.stripe_charge_id, amount=7000)

    response = deliver_and_apply(client, org, charge_event(org, stripe_charge_id))

    assert response.status_code == 200, response.content
    assert list(Refund.objects.values_list("charge_id", "stripe_refund_id", "amount")) == [(charge.pk, own, 1000)]
    assert fresh(charge).amount_refunded == 1000
    assert fresh(other).amount_refunded == 0


def test_event_naming_another_organizations_charge_changes_nothing(client, org, make_org, paid_charge):
    other_org = make_org()
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)

    response = deliver_and_apply(client, other_org, charge_event(org, paid_charge.stripe_charge_id))

    assert response.status_code == 200, response.content
    assert not Refund.objects.exists()
    assert fresh(paid_charge).status == "success"


@pytest.mark.parametrize("charge_field", [12, ["ch_x"], {"id": 7}, ""])
def test_signed_event_with_a_malformed_charge_field_is_acknowledged_not_a_500(client, org, paid_charge, charge_field):
    refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=100)
    evt = refund_event(org, refund_id, "refund.created")
    evt["data"]["object"]["charge"] = charge_field
    evt["data"]["object"]["payment_intent"] = charge_field

    response = deliver_and_apply(client, org, evt)

    assert response.status_code == 200, response.content
    assert not Refund.objects.exists()


def test_signed_body_with_a_nul_byte_is_stored_and_refused_not_a_500(client, org):
    from stripe_events import post_raw, signature_header

    body = '{"id": "evt_1", "object": "event", "type": "refund.created", "data": {"object": {"note": "a\u0000b"}}'
    response = post_raw(client, org.slug, body.encode(), signature_header(body))

    assert response.status_code == 400
    assert "\ufffd" in WebhookEvent.objects.get().body


def test_signed_event_whose_id_holds_a_nul_character_is_refused_not_a_500(client, org, paid_charge):
    refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=100)
    evt = refund_event(org, refund_id, "refund.created")
    evt["id"] = "evt_\u0000bad"

    assert deliver(client, org, evt).status_code == 400
