"""How the worker runs a refund batch: a few seconds at a time, handing its claim to the run it queues; never two
workers on one batch; a batch whose worker died is found again (docs/rules.md, rule 22)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import Actor
from flexbill.billing.models import Refund
from flexbill.refund_batches.models import RefundBatch
from flexbill.refund_batches.services import refund_batch_create, refund_batch_run, refund_batches_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(org, owner, make_paid_charge):
    charges = [make_paid_charge(org, amount=1000 * (n + 1)) for n in range(3)]
    return refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[c.pk for c in charges])


def test_a_batch_runs_in_turns_each_handing_its_claim_to_the_next(batch):
    queued = []
    token = str(batch.claim_token)
    for turn in range(1, 4):
        done = refund_batch_run(batch_id=batch.pk, token=token, seconds=0, on_more=lambda *a: queued.append(a))
        assert batch.items.exclude(status="pending").count() == turn  # at least one item per turn
        if turn < 3:
            assert not done
            assert queued[-1][0] == batch.pk
            token = queued[-1][1]
    assert done
    assert len(queued) == 2
    assert RefundBatch.objects.get(pk=batch.pk).status == "done"
    assert AuditEvent.objects.filter(action="refund_batch.resumed").count() == 0  # handed over, not taken over


def test_a_batch_another_worker_holds_is_left_alone(batch):
    assert not refund_batch_run(batch_id=batch.pk, token=None)  # held by the run queued at creation
    assert not refund_batch_run(batch_id=batch.pk, token="5f0c3a8e-0000-4000-8000-000000000000")
    assert RefundBatch.objects.get(pk=batch.pk).status == "queued"
    assert not Refund.objects.exists()


def test_a_batch_whose_claim_ended_is_due_and_taken_over_by_any_worker(batch):
    assert refund_batches_due() == []
    RefundBatch.objects.filter(pk=batch.pk).update(
        status="running", claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert refund_batches_due() == [batch.pk]

    assert refund_batch_run(batch_id=batch.pk, token=None)
    assert refund_batches_due() == []
    assert AuditEvent.objects.filter(action="refund_batch.resumed", object_id=str(batch.pk)).count() == 1


def test_a_finished_batch_is_never_run_again(batch):
    assert refund_batch_run(batch_id=batch.pk, token=str(batch.claim_token))
    RefundBatch.objects.filter(pk=batch.pk).update(claimed_until=None)
    assert not refund_batch_run(batch_id=batch.pk, token=None)
    assert Refund.objects.count() == 3
