"""Refunds requested at the same time never add up to more than the charge (docs/rules.md, rule 3), and one
Idempotency-Key gives one refund, however many requests carry it. Real threads, real database transactions."""

import threading
import time

import pytest
from django.db import connection, transaction

from flexbill.audit.services import Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, Refund
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.stripe_gateway.client import gateway_for
from threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def stripe_refunds(charge) -> dict[str, int]:
    return {r.id: r.amount for r in gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)}


def test_concurrent_refunds_never_exceed_the_charge(owner, paid_charge):
    results = run_together(
        lambda: services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=4000)
    )

    refunds = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if not isinstance(r, Refund)]
    assert len(refunds) == 2
    assert all(isinstance(r, RefundRefused) and r.refusal is Refusal.AMOUNT_TOO_LARGE for r in refused), refused
    charge = Charge.objects.get(pk=paid_charge.pk)
    assert charge.amount_reserved == charge.amount_refunded == 8000
    assert charge.status == "success"
    recorded = {r.stripe_refund_id: r.amount for r in Refund.objects.filter(charge=charge)}
    assert sum(recorded.values()) <= charge.amount
    assert stripe_refunds(charge) == recorded


def test_concurrent_full_refunds_refund_once(owner, paid_charge):
    results = run_together(lambda: services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge))

    refunds = [r for r in results if isinstance(r, Refund)]
    assert len(refunds) == 1
    assert all(
        isinstance(r, RefundRefused) and r.refusal is Refusal.ALREADY_REFUNDED for r in results if r not in refunds
    )
    assert Charge.objects.get(pk=paid_charge.pk).status == "refunded"
    assert stripe_refunds(paid_charge) == {refunds[0].stripe_refund_id: 10000}


def test_same_idempotency_key_from_several_threads_gives_exactly_one_refund(owner, paid_charge):
    results = run_together(
        lambda: services.refund_create(
            actor=Actor.for_membership(owner), charge=paid_charge, amount=4000, idempotency_key="key-1"
        )
    )

    assert all(isinstance(r, Refund) for r in results), results
    assert len({r.pk for r in results}) == 1
    refund = Refund.objects.get(charge=paid_charge)
    assert refund.status == "succeeded"
    assert stripe_refunds(paid_charge) == {refund.stripe_refund_id: 4000}
    assert Charge.objects.get(pk=paid_charge.pk).amount_reserved == 4000


def test_same_idempotency_key_for_a_full_refund_from_several_threads_answers_every_one_with_that_refund(
    owner, paid_charge
):
    # A full refund leaves nothing for the requests that waited on the lock: they must still get the refund
    # their key made, not a refusal.
    results = run_together(
        lambda: services.refund_create(
            actor=Actor.for_membership(owner), charge=paid_charge, idempotency_key="full-key"
        )
    )

    assert all(isinstance(r, Refund) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert stripe_refunds(paid_charge) == {Refund.objects.get(charge=paid_charge).stripe_refund_id: 10000}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite takes its write lock at BEGIN: nothing waits")
def test_money_recorded_as_returned_while_a_refund_waits_for_the_invoice_bounds_that_refund(owner, paid_charge):
    # Under READ COMMITTED a statement sees what was committed before it began: what the refund is judged against
    # must be read by statements begun once the invoice's lock is held, not by the one that waited for it.
    answered = []

    def refund_all_that_remains():
        try:
            answered.append(services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge))
        finally:
            connection.close()

    request = threading.Thread(target=refund_all_that_remains)
    with transaction.atomic():
        services.credit_note_create(
            actor=Actor.for_membership(owner),
            invoice=paid_charge.invoice,
            amount=7000,
            reason="Returned",
            refund_method="bank_transfer",
        )  # holds the invoice's lock until this block commits
        request.start()
        waiting_for_a_lock()
    request.join(timeout=60)

    assert answered and answered[0].amount == 3000, answered
    assert stripe_refunds(paid_charge) == {answered[0].stripe_refund_id: 3000}


def waiting_for_a_lock() -> None:
    for _ in range(500):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")  # live, unlike pg_stat_activity
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)
    raise AssertionError("the refund request never waited for the invoice's lock")
