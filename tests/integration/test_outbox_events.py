"""Services say what happened as outbox events in the transaction of the change (flexbill/outbox): a change that is
refused or rolled back says nothing; a batch of the set-based apply writes its events in one statement."""

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge
from flexbill.billing.refusals import RefundRefused
from flexbill.billing.services.apply import ChargeRefunds, charges_apply_stripe_refunds
from flexbill.errors import StripeFailed
from flexbill.outbox.dispatch import outbox_dispatch_pending
from flexbill.outbox.models import OutboxEvent
from flexbill.outgoing.services import webhook_endpoint_create
from flexbill.stripe_gateway.client import gateway_for
from flexbill_demo.stripe_dashboard import stripe_refund_directly
from webhook_servers import Receiver

PACKAGE = Path(services.__file__).resolve().parents[2]  # src/flexbill


def event_types() -> list[str]:
    return list(OutboxEvent.objects.order_by("id").values_list("type", flat=True))


def test_a_refused_refund_writes_no_outbox_event(org, owner, paid_charge):
    before = event_types()
    with pytest.raises(RefundRefused):
        services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=paid_charge.amount + 1)
    assert event_types() == before


def test_a_refund_stripe_refuses_is_announced_as_created_then_canceled(org, owner, paid_charge):
    Charge.objects.filter(pk=paid_charge.pk).update(stripe_charge_id="ch_flexbill_unknown_to_stripe")
    paid_charge.refresh_from_db()
    before = len(event_types())

    with pytest.raises(StripeFailed):
        services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=1000)

    assert event_types()[before:] == ["refund.created", "refund.canceled"]
    canceled = OutboxEvent.objects.get(type="refund.canceled").payload["data"]
    assert canceled["object"]["status"] == "canceled"
    assert canceled["previous_attributes"] == {"status": "requested"}


def test_the_set_based_apply_writes_a_batchs_events_in_one_statement(org, make_paid_charge):
    charges = [make_paid_charge(org, amount=5000) for _ in range(3)]
    for charge in charges:
        stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=1500)
    snapshots = [
        ChargeRefunds(charge_id=c.pk, refunds=gateway_for(org).refunds_for(charge_id=c.stripe_charge_id))
        for c in charges
    ]
    before = OutboxEvent.objects.count()

    with CaptureQueriesContext(connection) as captured:
        charges_apply_stripe_refunds(snapshots=snapshots, read_at=timezone.now())

    inserts = [q["sql"] for q in captured.captured_queries if '"outbox_outboxevent"' in q["sql"]]
    assert len(inserts) == 1
    # Per charge: the refund created and succeeded, the charge and its invoice updated.
    assert OutboxEvent.objects.count() - before == 3 * 4


def test_no_signal_receiver_drives_a_side_effect():
    """E-mails and outgoing webhooks come from the outbox, never from watching saved rows."""
    sources = list(PACKAGE.rglob("*.py"))
    assert len(sources) > 50 and PACKAGE.name == "flexbill"
    for path in sources:
        text = path.read_text()
        assert "receiver(" not in text, path
        assert "post_save" not in text, path


def test_a_mail_server_that_is_down_delays_the_email_only_and_it_is_sent_once_when_back(
    org, owner, paid_charge, settings, mailoutbox
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # dispatched by hand
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
    receiver = Receiver()
    try:
        webhook_endpoint_create(organization=org, url=receiver.url, event_types=["refund.succeeded"], actor=SYSTEM)
        services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=1000)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", 9, False  # nothing listens

        done, to_retry = outbox_dispatch_pending()

        assert to_retry == 1 and done == OutboxEvent.objects.count() - 1
        row = OutboxEvent.objects.get(type="refund.succeeded")
        assert row.processed_at is None and row.attempts == 1 and row.next_attempt_at is not None
        assert len(receiver.requests) == 1  # the integrator heard at once

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert outbox_dispatch_pending() == (0, 0)  # not due yet
        with time_machine.travel(timezone.now() + timedelta(seconds=6)):
            assert outbox_dispatch_pending() == (1, 0)

        assert len(mailoutbox) == 1 and len(receiver.requests) == 1
    finally:
        receiver.close()


def test_rows_still_waiting_in_a_slow_batch_keep_their_lease(org, owner, make_paid_charge, settings, monkeypatch):
    from flexbill.outbox import dispatch

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.FLEXBILL_OUTBOX_LEASE_SECONDS = 2
    for _ in range(2):
        services.refund_create(
            actor=Actor.for_membership(owner), charge=make_paid_charge(org, amount=3000), amount=1000
        )
    taken_again = []
    with time_machine.travel(timezone.now(), tick=False) as clock:

        def slow_endpoint(row):  # each row takes 1.5 s, a batch far longer than the lease
            clock.shift(timedelta(seconds=1.5))
            taken_again.append(dispatch.ready_rows(timezone.now()).count())

        monkeypatch.setattr(dispatch, "deliver_event", slow_endpoint)
        done, _ = dispatch.outbox_dispatch_pending()

    assert done == OutboxEvent.objects.count() > 4
    assert set(taken_again) == {0}  # no row of the batch was ever free for another worker to take
