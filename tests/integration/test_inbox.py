"""The inbox of Stripe events: acknowledged at once with no Stripe call, applied by the worker in batches with one
Stripe read per charge, retried by flexbill (never bounced to Stripe), and only for the organization's own
account and mode (docs/rules.md, rule 9)."""

from datetime import timedelta

import time_machine
from django.test import Client
from django.utils import timezone

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM
from flexbill.billing import services
from flexbill.billing.models import Charge, Refund, WebhookEvent
from flexbill.billing.services import inbox_apply_pending, reconcile_organization
from flexbill.billing.services.apply import RELEASED_REASON
from flexbill.notifications.models import RefundNotification
from flexbill.outgoing.models import WebhookDelivery
from flexbill.outgoing.services import webhook_endpoint_create
from flexbill_demo.stripe_dashboard import stripe_refund_directly
from stripe_events import charge_event, deliver, refund_event, stripe_refunds_of_charge

STRIPE_DOWN = "http://127.0.0.1:9"


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def refund_reads(requests) -> list[str]:
    return [path for method, path in requests if method == "GET" and path.startswith("v1/refunds")]


def test_webhook_is_acknowledged_without_any_stripe_call_even_with_stripe_stopped(
    org, paid_charge, settings, stripe_requests
):
    refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)
    evt = refund_event(org, refund_id, "refund.created")
    stripe_url, settings.FLEXBILL_STRIPE_API_BASE = settings.FLEXBILL_STRIPE_API_BASE, STRIPE_DOWN
    stripe_requests.clear()

    response = deliver(Client(), org, evt)

    assert (response.status_code, response.json()["detail"]) == (200, "Received.")
    assert stripe_requests == []
    assert not Refund.objects.exists()
    assert WebhookEvent.objects.get().state == "received"

    settings.FLEXBILL_STRIPE_API_BASE = stripe_url
    inbox_apply_pending()

    assert Refund.objects.get().stripe_refund_id == refund_id
    assert fresh(paid_charge).status == "refunded"


def test_while_stripe_cannot_be_read_events_wait_with_backoff_and_apply_once_it_answers(org, paid_charge, settings):
    refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=2500)
    assert deliver(Client(), org, refund_event(org, refund_id, "refund.created")).status_code == 200
    stripe_url, settings.FLEXBILL_STRIPE_API_BASE = settings.FLEXBILL_STRIPE_API_BASE, STRIPE_DOWN
    start = timezone.now()

    inbox_apply_pending()
    event = WebhookEvent.objects.get()
    assert (event.state, event.attempts) == ("waiting", 1)
    assert "Stripe could not be read" in event.last_error
    assert start + timedelta(seconds=4) < event.next_attempt_at < timezone.now() + timedelta(seconds=6)
    inbox_apply_pending()  # not due yet: left alone
    assert fresh(event).attempts == 1

    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        inbox_apply_pending()  # still down: waits twice as long
        event = fresh(event)
        assert (event.state, event.attempts) == ("waiting", 2)
        assert event.next_attempt_at > timezone.now() + timedelta(seconds=9)

    settings.FLEXBILL_STRIPE_API_BASE = stripe_url
    with time_machine.travel(timezone.now() + timedelta(seconds=20)):
        inbox_apply_pending()

    event = fresh(event)
    assert (event.state, event.last_error, event.next_attempt_at) == ("applied", "", None)
    assert fresh(paid_charge).amount_refunded == 2500
    assert not Refund.objects.exclude(stripe_refund_id=refund_id).exists()


def test_an_event_that_keeps_failing_is_marked_failed_with_its_reason(org, paid_charge, settings):
    settings.FLEXBILL_INBOX_MAX_ATTEMPTS = 2
    refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=2500)
    deliver(Client(), org, refund_event(org, refund_id, "refund.created"))
    settings.FLEXBILL_STRIPE_API_BASE = STRIPE_DOWN

    inbox_apply_pending()
    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        inbox_apply_pending()
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        inbox_apply_pending()

    event = WebhookEvent.objects.get()
    assert (event.state, event.attempts, event.next_attempt_at) == ("failed", 2, None)
    assert "Stripe could not be read" in event.last_error


def test_one_stripe_read_per_charge_per_batch_however_many_events_name_it(
    org, owner, make_paid_charge, stripe_requests
):
    charges = [make_paid_charge(org, amount=10000) for _ in range(3)]
    events = []
    for charge in charges:
        for amount in (1000, 2000, 3000):
            refund_id = stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=amount)
            events += [refund_event(org, refund_id, t) for t in ("refund.created", "charge.refund.updated")]
        events.append(charge_event(org, charge.stripe_charge_id))
    client = Client()
    for evt in events:
        assert deliver(client, org, evt).status_code == 200
    stripe_requests.clear()

    report = inbox_apply_pending()

    assert (report.batches, report.applied, report.stripe_reads) == (1, len(events), 3)
    assert len(refund_reads(stripe_requests)) == 3
    for charge in charges:
        assert fresh(charge).amount_refunded == 6000
    assert Refund.objects.count() == 9


def test_duplicated_and_shuffled_events_are_applied_once(org, make_paid_charge):
    charge = make_paid_charge(org, amount=10000)
    ids = [stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=a) for a in (1500, 2500)]
    events = [charge_event(org, charge.stripe_charge_id)] + [refund_event(org, i, "refund.created") for i in ids]
    client = Client()
    for evt in [*reversed(events), *events, events[1]]:
        assert deliver(client, org, evt).status_code == 200
        inbox_apply_pending()

    assert WebhookEvent.objects.count() == len(events)
    assert sorted(Refund.objects.values_list("stripe_refund_id", "amount")) == sorted(zip(ids, (1500, 2500)))
    assert AuditEvent.objects.filter(action="refund.synced").count() == 2
    assert fresh(charge).amount_refunded == 4000


def test_a_charge_already_in_step_with_stripe_is_skipped_without_writes(org, paid_charge):
    refund_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=1000)
    deliver(Client(), org, refund_event(org, refund_id, "refund.created"))
    inbox_apply_pending()
    synced_at = Refund.objects.get().stripe_synced_at
    audits = AuditEvent.objects.count()

    deliver(Client(), org, refund_event(org, refund_id, "refund.updated"))
    inbox_apply_pending()

    assert WebhookEvent.objects.order_by("-id").first().outcome == "In step with Stripe."
    assert Refund.objects.get().stripe_synced_at == synced_at
    assert AuditEvent.objects.count() == audits


def test_a_requested_refund_never_blocks_recording_what_stripe_reports(org, paid_charge):
    # flexbill sent a 4000 refund and Stripe timed out; meanwhile the whole charge was refunded in Stripe's dashboard.
    requested = Refund.objects.create(
        organization=org, charge=paid_charge, amount=4000, currency="usd", status="requested", origin="app"
    )
    services.charge_refresh(charge=fresh(paid_charge), actor=SYSTEM)
    stripe_id = stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)

    response = deliver(Client(), org, charge_event(org, paid_charge.stripe_charge_id))
    report = inbox_apply_pending()

    assert response.status_code == 200
    assert (report.batches, report.applied, report.retrying) == (1, 1, 0)
    released = fresh(requested)
    assert (released.status, released.failure_reason) == ("canceled", RELEASED_REASON)
    recorded = Refund.objects.get(stripe_refund_id=stripe_id)
    assert (recorded.amount, recorded.status, recorded.origin) == (10000, "succeeded", "stripe")
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_refunded, charge.amount_reserved) == ("refunded", 10000, 10000)
    audit = AuditEvent.objects.get(action="refund.canceled", object_id=str(requested.pk))
    assert (audit.before["status"], audit.after["status"], audit.actor_type) == ("requested", "canceled", "stripe")


def test_reconcile_releases_a_requested_refund_that_stripes_refunds_leave_no_room_for(org, make_paid_charge):
    charge = make_paid_charge(org, amount=10000)
    requested = Refund.objects.create(
        organization=org, charge=charge, amount=4000, currency="usd", status="requested", origin="app"
    )
    services.charge_refresh(charge=fresh(charge), actor=SYSTEM)
    first = stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=5000)
    second = stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=5000)

    report = reconcile_organization(org, page_size=1)  # each page holds one of the charge's two refunds

    assert report.errors == []
    assert (report.refunds_created, report.requested_settled) == (2, 1)
    assert fresh(requested).status == "canceled"
    assert sorted(Refund.objects.filter(origin="stripe").values_list("stripe_refund_id", flat=True)) == sorted(
        [first, second]
    )
    assert fresh(charge).amount_refunded == 10000
    assert reconcile_organization(org).changed == 0


def test_refunds_that_name_only_a_payment_intent_are_synced_through_it(org, paid_charge):
    # Refunds of PaymentIntents can reach flexbill before it stored the charge id (or name no charge at all).
    intent_id = paid_charge.stripe_payment_intent_id
    stripe_charge_id = paid_charge.stripe_charge_id
    Charge.objects.filter(pk=paid_charge.pk).update(stripe_charge_id=None)
    refund_id = stripe_refund_directly(org, charge_id=stripe_charge_id, amount=3000)
    evt = refund_event(org, refund_id, "refund.created")
    evt["data"]["object"]["charge"] = None
    assert evt["data"]["object"]["payment_intent"] in (intent_id, None)
    evt["data"]["object"]["payment_intent"] = intent_id

    assert deliver(Client(), org, evt).status_code == 200
    inbox_apply_pending()

    refund = Refund.objects.get()
    assert (refund.charge_id, refund.stripe_refund_id, refund.amount) == (paid_charge.pk, refund_id, 3000)
    assert fresh(paid_charge).amount_refunded == 3000


def test_an_event_of_a_connected_account_is_stored_and_ignored(org, paid_charge, stripe_requests):
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)
    evt = charge_event(org, paid_charge.stripe_charge_id)
    evt["account"] = "acct_1ConnectedElsewhere"
    stripe_requests.clear()

    response = deliver(Client(), org, evt)
    inbox_apply_pending()

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.state == "ignored"
    assert "connected account acct_1ConnectedElsewhere" in event.outcome
    assert stripe_requests == []
    assert not Refund.objects.exists()


def test_an_event_whose_mode_differs_from_the_organizations_key_is_stored_and_ignored(org, paid_charge):
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id)
    live = charge_event(org, paid_charge.stripe_charge_id)
    live["livemode"] = True  # the organization holds a test key (sk_test_…)

    assert deliver(Client(), org, live).status_code == 200
    inbox_apply_pending()

    event = WebhookEvent.objects.get()
    assert event.state == "ignored"
    assert "live-mode event" in event.outcome
    assert not Refund.objects.exists()


def test_an_event_for_a_charge_not_yet_known_is_applied_once_flexbill_knows_it(org, paid_charge):
    stripe_charge_id = paid_charge.stripe_charge_id
    Charge.objects.filter(pk=paid_charge.pk).update(stripe_charge_id=None, stripe_payment_intent_id=None)
    refund_id = stripe_refund_directly(org, charge_id=stripe_charge_id, amount=1200)
    deliver(Client(), org, refund_event(org, refund_id, "refund.created"))

    inbox_apply_pending()
    assert WebhookEvent.objects.get().state == "waiting"

    Charge.objects.filter(pk=paid_charge.pk).update(stripe_charge_id=stripe_charge_id)
    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        inbox_apply_pending()

    assert WebhookEvent.objects.get().state == "applied"
    assert fresh(paid_charge).amount_refunded == 1200


def test_refunds_first_seen_in_stripe_are_emailed_and_announced_once(
    org, make_paid_charge, mailoutbox, django_capture_on_commit_callbacks, settings
):
    # The batch inserts refunds, audit and outbox events in bulk: e-mails and outgoing webhooks go out, once each.
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
    webhook_endpoint_create(
        organization=org, url="http://127.0.0.1:9/hook", event_types=["refund.succeeded"], actor=SYSTEM
    )
    charges = [make_paid_charge(org, amount=5000) for _ in range(2)]
    refund_ids = [stripe_refund_directly(org, charge_id=c.stripe_charge_id, amount=2000) for c in charges]
    client = Client()

    for event_type in ("refund.created", "refund.updated"):
        for refund_id in refund_ids:
            deliver(client, org, refund_event(org, refund_id, event_type))
        with django_capture_on_commit_callbacks(execute=True):
            inbox_apply_pending()

    refunds = list(Refund.objects.order_by("pk"))
    assert len(refunds) == 2
    assert sorted(m.to[0] for m in mailoutbox) == sorted(c.invoice.customer.email for c in charges)
    assert RefundNotification.objects.count() == 2
    deliveries = WebhookDelivery.objects.filter(event_type="refund.succeeded")
    assert sorted(d.payload["data"]["object"]["id"] for d in deliveries) == sorted(r.pk for r in refunds)


def test_stripes_refunds_of_a_charge_match_after_a_batch_of_many_charges(org, make_paid_charge):
    charges = [make_paid_charge(org, amount=5000) for _ in range(4)]
    client = Client()
    for n, charge in enumerate(charges):
        for _ in range(n + 1):
            stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=1000)
        deliver(client, org, charge_event(org, charge.stripe_charge_id))

    inbox_apply_pending()

    for charge in charges:
        in_stripe = stripe_refunds_of_charge(org, charge.stripe_charge_id)
        local = set(Refund.objects.filter(charge=charge).values_list("stripe_refund_id", "amount", "status"))
        assert local == {(r["id"], r["amount"], r["status"]) for r in in_stripe}
        assert fresh(charge).amount_refunded == sum(r["amount"] for r in in_stripe)
