"""An item whose runs keep ending in an unexpected error (a bug, a database error, a crash) is tried
FLEXBILL_REFUND_BATCH_ITEM_MAX_ATTEMPTS times, then settled from what its idempotency key finds, and the batch goes on
to its next items and finishes (docs/rules.md, rule 22)."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import Actor
from flexbill.billing.models import Charge, Refund
from flexbill.refund_batches import services
from flexbill.refund_batches.models import RefundBatch
from flexbill.refund_batches.services import refund_batch_create, refund_batch_run, refund_batches_due
from flexbill.stripe_gateway.client import gateway_for

pytestmark = pytest.mark.django_db

REAL_REFUND_CREATE = services.refund_create


class Poison(RuntimeError):
    pass


@pytest.fixture
def charges(org, make_paid_charge):
    return [make_paid_charge(org, amount=1000 * (n + 1)) for n in range(3)]


@pytest.fixture
def batch(owner, charges):
    return refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[c.pk for c in charges])


def lease_ends(batch):
    """The worker whose run ended in the error is gone; its claim lapses and the sweep finds the batch due."""
    RefundBatch.objects.filter(pk=batch.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert refund_batches_due() == [batch.pk]


def stripe_refunds(org, charge):
    return gateway_for(org).refunds_for_charge(Charge.objects.get(pk=charge.pk).stripe_charge_id)


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_a_poison_item_is_tried_max_attempts_times_then_failed_while_the_rest_of_the_batch_finishes(
    org, batch, charges, monkeypatch, settings, caplog, max_attempts
):
    settings.FLEXBILL_REFUND_BATCH_ITEM_MAX_ATTEMPTS = max_attempts
    poison = charges[1]
    tries = []

    def refund_create(*, charge, **kwargs):
        if charge.pk == poison.pk:
            tries.append(charge.pk)
            raise Poison("internal state 0xdeadbeef")
        return REAL_REFUND_CREATE(charge=charge, **kwargs)

    monkeypatch.setattr(services, "refund_create", refund_create)
    item = batch.items.get(charge=poison)
    token = str(batch.claim_token)
    with caplog.at_level(logging.ERROR, logger="flexbill.refund_batches"):
        for attempt in range(1, max_attempts + 1):
            with pytest.raises(Poison):
                refund_batch_run(batch_id=batch.pk, token=token)
            item.refresh_from_db()
            assert (item.status, item.attempts) == ("pending", attempt)
            lease_ends(batch)
            token = None
        assert refund_batch_run(batch_id=batch.pk, token=None)

    assert len(tries) == max_attempts
    item.refresh_from_db()
    assert (item.status, item.refund_id, item.attempts) == ("failed", None, max_attempts)
    assert item.detail == (
        f"flexbill stopped trying to refund this charge after {max_attempts} attempts that ended in an unexpected "
        "error. No refund was made."
    )
    assert "0xdeadbeef" not in item.detail and "Poison" not in item.detail
    failed = AuditEvent.objects.get(action="refund_batch.item_failed")
    assert (failed.object_id, failed.message) == (str(item.pk), item.detail)

    others = batch.items.exclude(pk=item.pk)
    assert [i.status for i in others] == ["succeeded", "succeeded"]
    assert RefundBatch.objects.get(pk=batch.pk).status == "done"
    assert not Refund.objects.filter(charge=poison).exists()
    assert stripe_refunds(org, poison) == []
    for charge in (charges[0], charges[2]):
        assert [r.amount for r in stripe_refunds(org, charge)] == [charge.amount]

    logged = [r for r in caplog.records if r.name == "flexbill.refund_batches"]
    assert len(logged) == max_attempts
    assert all(r.exc_info and r.exc_info[0] is Poison for r in logged)


def test_an_item_that_crashed_after_its_refund_was_recorded_is_recorded_by_that_refund_not_failed(
    org, batch, charges, monkeypatch, settings
):
    settings.FLEXBILL_REFUND_BATCH_ITEM_MAX_ATTEMPTS = 3
    crashing = charges[0]

    def refund_create(*, charge, **kwargs):
        refund = REAL_REFUND_CREATE(charge=charge, **kwargs)
        if charge.pk == crashing.pk:
            raise Poison("after the refund was recorded")
        return refund

    monkeypatch.setattr(services, "refund_create", refund_create)
    token = str(batch.claim_token)
    for _ in range(3):
        with pytest.raises(Poison):
            refund_batch_run(batch_id=batch.pk, token=token)
        lease_ends(batch)
        token = None
    assert refund_batch_run(batch_id=batch.pk, token=None)

    refund = Refund.objects.get(charge=crashing)  # the first attempt's, found again by its key on the others
    assert refund.status == "succeeded"
    item = batch.items.get(charge=crashing)
    assert (item.status, item.refund_id, item.detail, item.attempts) == ("succeeded", refund.pk, "", 3)
    assert [r.id for r in stripe_refunds(org, crashing)] == [refund.stripe_refund_id]
    assert AuditEvent.objects.filter(action="refund_batch.item_succeeded", object_id=str(item.pk)).count() == 1
    assert {i.status for i in batch.items.all()} == {"succeeded"}
    assert RefundBatch.objects.get(pk=batch.pk).status == "done"


def test_an_attempt_is_counted_before_the_item_is_tried_so_a_run_that_raises_still_counts_it(
    batch, charges, monkeypatch
):
    def refund_create(*, charge, **kwargs):
        if charge.pk == charges[1].pk:
            raise Poison("a bug")
        return REAL_REFUND_CREATE(charge=charge, **kwargs)

    monkeypatch.setattr(services, "refund_create", refund_create)
    with pytest.raises(Poison):
        refund_batch_run(batch_id=batch.pk, token=str(batch.claim_token))

    attempts = dict(batch.items.values_list("charge_id", "attempts"))
    assert attempts == {charges[0].pk: 1, charges[1].pk: 1, charges[2].pk: 0}
    assert batch.items.get(charge=charges[1]).status == "pending"
