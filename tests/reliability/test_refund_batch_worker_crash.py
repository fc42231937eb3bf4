"""A worker process dies (SIGKILL) in the middle of a refund batch; another worker resumes it once the dead one's
claim ends. Every charge is refunded exactly once at Stripe and the batch completes (docs/rules.md, rule 22)."""

import time

import pytest
from crash_points import crash_env

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import Actor
from flexbill.billing.models import Charge, Refund
from flexbill.refund_batches.models import RefundBatch
from flexbill.refund_batches.services import refund_batch_create
from flexbill.stripe_gateway.client import gateway_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAST = {"FLEXBILL_REFUND_BATCH_LEASE_SECONDS": "2", "FLEXBILL_REFUND_BATCH_SWEEP_INTERVAL": "0.5"}


def killed_at(point: str, hit: int) -> dict:
    return {**FAST, **crash_env(point, hit=hit)}


def wait_until(condition, *, seconds: float, what: str, log) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen:\n{log()}"
        time.sleep(0.2)


@pytest.mark.parametrize(
    "point",
    [
        # Stripe refunded the third charge; the worker dies before it stores Stripe's answer.
        "after_stripe_refund",
        # The third item is recorded; the worker dies before the fourth.
        "refund_batch_item_done",
    ],
)
def test_a_worker_killed_mid_batch_is_resumed_and_refunds_every_charge_exactly_once(
    org, owner, make_paid_charge, worker_process, settings, point
):
    settings.FLEXBILL_REFUND_BATCH_LEASE_SECONDS = 1  # the batch's first claim; the worker is sent its own
    charges = [make_paid_charge(org, amount=1000 + n) for n in range(6)]
    batch = refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[c.pk for c in charges])

    doomed = worker_process(env=killed_at(point, hit=3))
    assert doomed.process.wait(timeout=90) == -9, doomed.log()  # SIGKILL at the crash point, mid-batch
    batch.refresh_from_db()
    assert batch.status == "running"
    done_before = batch.items.exclude(status="pending").count()
    assert 2 <= done_before <= 3, done_before

    survivor = worker_process(env=FAST)
    wait_until(
        lambda: RefundBatch.objects.get(pk=batch.pk).status == "done",
        seconds=90,
        what="the batch completing",
        log=survivor.log,
    )

    assert {i.status for i in batch.items.all()} == {"succeeded"}
    for charge in charges:
        in_stripe = gateway_for(org).refunds_for_charge(Charge.objects.get(pk=charge.pk).stripe_charge_id)
        assert [r.amount for r in in_stripe] == [charge.amount], charge
        local = Refund.objects.get(charge=charge)  # exactly one
        assert (local.stripe_refund_id, local.status) == (in_stripe[0].id, "succeeded")
        assert batch.items.get(charge=charge).refund_id == local.pk
    assert AuditEvent.objects.filter(action="refund_batch.resumed", object_id=str(batch.pk)).count() == 1
    assert AuditEvent.objects.filter(action="refund_batch.item_succeeded").count() == 6
