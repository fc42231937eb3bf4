"""A worker process dies (SIGKILL) after it claimed a batch of Stripe events and wrote the refunds, before the
commit: nothing is lost, nothing is doubled. Another worker takes the events over once the claim's lease ends
and applies each once (docs/rules.md, rule 9: the inbox)."""

import json
import time

import pytest
from crash_points import crash_env

from flexbill.audit.models import AuditEvent
from flexbill.billing.models import Refund, WebhookEvent
from flexbill.billing.services.inbox import webhook_receive
from flexbill.stripe_gateway.client import gateway_for
from flexbill_demo.stripe_dashboard import stripe_refund_directly
from stripe_events import charge_event, payload_of, refund_event, signature_header

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE = {"FLEXBILL_INBOX_LEASE_SECONDS": "2", "FLEXBILL_INBOX_SWEEP_INTERVAL": "0.5"}
KILL_BEFORE_COMMIT = {**LEASE, **crash_env("before_refunds_commit")}


def store(organization, evt) -> None:
    """What the webhook endpoint does, without queueing: the events wait for the worker started below."""
    payload = payload_of(evt)
    outcome = webhook_receive(
        org_slug=organization.slug, body=payload.encode(), headers={"Stripe-Signature": signature_header(payload)}
    )
    assert outcome.status == 200, outcome


def wait_until(condition, *, seconds: float, what: str, log) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen:\n{log()}"
        time.sleep(0.2)


def test_a_worker_killed_between_claim_and_commit_loses_nothing_and_doubles_nothing(
    org, make_paid_charge, worker_process
):
    charges = [make_paid_charge(org, amount=6000) for _ in range(4)]
    events = []
    for charge in charges:
        for amount in (1000, 2500):
            refund_id = stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=amount)
            events.append(refund_event(org, refund_id, "refund.created"))
        events.append(charge_event(org, charge.stripe_charge_id))
    for evt in events:
        store(org, evt)

    doomed = worker_process(env=KILL_BEFORE_COMMIT)
    assert doomed.process.wait(timeout=60) == -9, doomed.log()  # SIGKILL at the batch's commit

    # The batch was claimed and its writes rolled back with the process: nothing applied, nothing half-written.
    assert not Refund.objects.exists()
    assert not AuditEvent.objects.filter(action="refund.synced").exists()
    inbox = WebhookEvent.objects.filter(verified=True)
    assert inbox.count() == len(events)
    assert not inbox.filter(processed_at__isnull=False).exists()
    assert not inbox.filter(claimed_until__isnull=True).exists()

    survivor = worker_process(env=LEASE)
    wait_until(
        lambda: not inbox.filter(processed_at__isnull=True).exists(),
        seconds=60,
        what="applying every event",
        log=survivor.log,
    )

    assert {e.state for e in inbox} == {"applied"}
    for charge in charges:
        in_stripe = gateway_for(org).refunds_for(charge_id=charge.stripe_charge_id)
        local = list(Refund.objects.filter(charge=charge).values_list("stripe_refund_id", "amount", "status"))
        assert sorted(local) == sorted((r.id, r.amount, r.status) for r in in_stripe)
        charge.refresh_from_db()
        assert charge.amount_refunded == 3500
    assert AuditEvent.objects.filter(action="refund.synced").count() == 8
    assert json.loads(inbox.first().body)["id"] == events[0]["id"]
