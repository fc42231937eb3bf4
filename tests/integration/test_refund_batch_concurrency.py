"""Refund batches started at the same time with charges in common (a double click, two people): one batch takes the
charges, the others are refused whole; a batch that is done frees its charges; the same request sent at once under
one Idempotency-Key makes one batch, which every copy answers with (docs/rules.md, rule 22). Real threads, real
database transactions."""

import pytest

from flexbill.audit.services import Actor
from flexbill.billing.models import Refund
from flexbill.errors import Conflict
from flexbill.refund_batches.models import RefundBatch
from flexbill.refund_batches.services import refund_batch_create, refund_batch_run
from threads import THREADS, run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_batches_started_at_once_with_the_same_charges_make_exactly_one_batch(org, owner, make_paid_charge):
    charges = [make_paid_charge(org, amount=2000), make_paid_charge(org, amount=3000)]
    results = run_together(
        lambda: refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[c.pk for c in charges], percent=50)
    )

    batches = [r for r in results if isinstance(r, RefundBatch)]
    refused = [r for r in results if not isinstance(r, RefundBatch)]
    assert len(batches) == 1
    assert all(isinstance(r, Conflict) and r.code == "charge_in_batch" for r in refused), refused
    assert refused[0].detail == (
        f"Refund batch {batches[0].pk} is still refunding charge {charges[0].pk}, {charges[1].pk}; "
        "wait until it is done."
    )
    assert RefundBatch.objects.count() == 1


def test_a_charge_is_free_for_another_batch_once_its_batch_is_done(org, owner, make_paid_charge):
    charge = make_paid_charge(org, amount=2000)
    first = refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[charge.pk], percent=10)
    with pytest.raises(Conflict):
        refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[charge.pk], percent=10)
    assert refund_batch_run(batch_id=first.pk, token=str(first.claim_token))

    second = refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[charge.pk], percent=10)
    assert second.pk != first.pk


def test_the_same_request_sent_at_once_under_one_idempotency_key_makes_exactly_one_batch_and_refunds_once(
    org, owner, make_paid_charge
):
    charges = [make_paid_charge(org, amount=2000), make_paid_charge(org, amount=3000)]
    results = run_together(
        lambda: refund_batch_create(
            actor=Actor.for_membership(owner), charge_ids=[c.pk for c in charges], percent=20, idempotency_key="same"
        )
    )

    assert all(isinstance(r, RefundBatch) for r in results), results  # none refused as "charge in batch"
    assert len({r.pk for r in results}) == 1
    batch = RefundBatch.objects.get()
    assert refund_batch_run(batch_id=batch.pk, token=str(batch.claim_token))
    assert sorted(Refund.objects.values_list("charge_id", "amount")) == [(charges[0].pk, 400), (charges[1].pk, 600)]


def test_one_idempotency_key_sent_at_once_with_different_charges_makes_one_batch_and_refuses_the_others(
    org, owner, make_paid_charge
):
    # No charge in common, so no charge lock makes them wait for each other: the unique key decides.
    charges = [make_paid_charge(org, amount=1000 + n) for n in range(THREADS)]
    ids = [c.pk for c in charges]  # list.pop is atomic: each thread takes its own charge
    results = run_together(
        lambda: refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[ids.pop()], idempotency_key="one")
    )

    batches = [r for r in results if isinstance(r, RefundBatch)]
    refused = [r for r in results if not isinstance(r, RefundBatch)]
    assert len(batches) == 1
    assert len(refused) == THREADS - 1
    assert all(isinstance(r, Conflict) and r.code == "idempotency_key_reused" for r in refused), refused
    assert RefundBatch.objects.count() == 1
