"""What issuing a refund leaves behind, exactly: the refusal (code and sentence) of each bad request, the refund
row and its audit events, what flexbill tells Stripe, what a Stripe failure says, and how a refund left
"requested" is settled: adopted, sent again, or canceled once its grace period is over."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.idempotency import request_fingerprint
from flexbill.billing.models import Refund
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.billing.services.refunds import _release
from flexbill.errors import Conflict, InvalidInput, StripeFailed
from recording_stripe import recording_stripe
from stripe_events import stripe_client, stripe_refund_for_reference

UNREACHABLE_STRIPE = "http://127.0.0.1:9"  # nothing listens there: the request never leaves


def refund_events(refund) -> list[tuple]:
    events = AuditEvent.objects.filter(object_type="refund", object_id=str(refund.pk)).order_by("id")
    return [(e.action, e.before, e.after, e.message, e.invoice_id) for e in events]


def requested_state(refund, **changes) -> dict:
    state = {"amount": refund.amount, "status": "requested", "reason": refund.reason, "origin": "app"}
    return {**state, "stripe_refund_id": None, **changes}


@pytest.mark.parametrize(
    ("fields", "code", "detail"),
    [
        (
            {"reason": "changed_mind"},
            "reason_invalid",
            "reason must be one of requested_by_customer, duplicate, fraudulent, other.",
        ),
        ({"note": "N" * 1001}, "note_invalid", "note must be at most 1000 characters."),
        ({"idempotency_key": ""}, "idempotency_key_invalid", "Idempotency-Key must be 1 to 255 characters."),
        ({"idempotency_key": "K" * 256}, "idempotency_key_invalid", "Idempotency-Key must be 1 to 255 characters."),
    ],
)
def test_a_refund_with_bad_input_is_refused_with_its_code_and_sentence(owner, paid_charge, fields, code, detail):
    with pytest.raises(InvalidInput) as refused:
        services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=100, **fields)

    assert (refused.value.code, refused.value.detail) == (code, detail)
    assert not Refund.objects.exists()


@pytest.mark.parametrize(("note", "key"), [(" " + "N" * 1000 + " ", "K" * 255), (None, "K")])
def test_a_note_of_1000_characters_and_keys_of_1_to_255_are_taken_and_the_note_trimmed(owner, paid_charge, note, key):
    refund = services.refund_create(
        actor=Actor.for_membership(owner), charge=paid_charge, amount=100, note=note, idempotency_key=key
    )
    stored = Refund.objects.get(pk=refund.pk)
    assert (stored.note, stored.idempotency_key) == ("N" * 1000 if note else "", key)


def test_a_refund_is_recorded_with_what_was_asked_then_audited_as_requested_and_as_stripe_answered(owner, paid_charge):
    refund = services.refund_create(
        actor=Actor.for_membership(owner),
        charge=paid_charge,
        amount=2500,
        reason="duplicate",
        note="Charged twice",
        credit_note=True,
        idempotency_key="key-1",
    )

    stored = Refund.objects.get(pk=refund.pk)
    assert (stored.amount, stored.currency, stored.reason, stored.note, stored.origin) == (
        2500,
        paid_charge.currency,
        "duplicate",
        "Charged twice",
        "app",
    )
    assert (stored.idempotency_key, stored.credit_note_requested, stored.created_by_id, stored.status) == (
        "key-1",
        True,
        owner.user.pk,
        "succeeded",
    )
    body = {"amount": 2500, "reason": "duplicate", "note": "Charged twice", "credit_note": True, "currency": None}
    assert stored.request_fingerprint == request_fingerprint(paid_charge.pk, body)
    requested = AuditEvent.objects.get(object_type="refund", object_id=str(refund.pk), action="refund.requested")
    assert (requested.before, requested.after, requested.message, requested.invoice_id, requested.actor_user_id) == (
        None,
        requested_state(stored),
        "Charged twice",
        paid_charge.invoice_id,
        owner.user.pk,
    )


def test_stripe_is_told_the_amount_reason_and_the_flexbill_refund_and_invoice(org, owner, paid_charge):
    refund = services.refund_create(
        actor=Actor.for_membership(owner), charge=paid_charge, amount=2500, reason="fraudulent"
    )

    in_stripe = stripe_client(org).v1.refunds.retrieve(refund.stripe_refund_id)
    assert (in_stripe.amount, in_stripe.charge) == (2500, paid_charge.stripe_charge_id)
    assert in_stripe.metadata.to_dict() == {
        "flexbill_refund_id": str(refund.pk),
        "flexbill_refund_reference": str(refund.reference),
        "flexbill_invoice": paid_charge.invoice.number,
        "flexbill_reason": "fraudulent",
    }


def test_a_refund_stripe_refused_says_nothing_was_changed_and_is_audited_as_rejected(settings, owner, paid_charge):
    settings.FLEXBILL_STRIPE_API_BASE = UNREACHABLE_STRIPE

    with pytest.raises(StripeFailed) as failed:
        services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=3000, note="n")

    assert failed.value.code == "stripe_error"
    assert failed.value.detail.startswith("Stripe did not refund: ")
    assert failed.value.detail.endswith(" Nothing was changed.")
    [event] = AuditEvent.objects.filter(object_type="refund", action="refund.rejected")
    assert (event.before, event.after, event.invoice_id, event.actor_user_id) == (
        {"amount": 3000, "status": "requested", "reason": "requested_by_customer", "origin": "app"}
        | {"stripe_refund_id": None},
        None,
        paid_charge.invoice_id,
        owner.user.pk,
    )
    assert event.message and event.message in failed.value.detail


def requested_refund(org, charge, *, amount=2500, created_ago=timedelta(0), **fields) -> Refund:
    """A refund flexbill recorded and whose Stripe answer it never stored (a crash or timeout after recording)."""
    refund = Refund.objects.create(
        organization=org,
        charge=charge,
        amount=amount,
        currency=charge.currency,
        status="requested",
        origin="app",
        **fields,
    )
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - created_ago)
    services.charge_refresh(charge=charge, actor=SYSTEM)
    return Refund.objects.get(pk=refund.pk)


def test_a_requested_refund_stripe_never_saw_is_kept_within_its_grace_period_then_canceled(settings, org, paid_charge):
    settings.FLEXBILL_REQUESTED_REFUND_GRACE_SECONDS = 600
    young = requested_refund(org, paid_charge, created_ago=timedelta(seconds=590))
    old = requested_refund(org, paid_charge, created_ago=timedelta(seconds=610))

    services.refund_settle(refund=young, resend=False)
    services.refund_settle(refund=old, resend=False)

    assert Refund.objects.get(pk=young.pk).status == "requested"
    canceled = Refund.objects.get(pk=old.pk)
    reason = "Stripe has no record of this refund: it never reached Stripe. No money moved."
    assert (canceled.status, canceled.failure_reason) == ("canceled", reason)
    assert refund_events(old) == [
        (
            "refund.canceled",
            requested_state(old),
            requested_state(old, status="canceled"),
            reason,
            paid_charge.invoice_id,
        )
    ]
    assert paid_charge.__class__.objects.get(pk=paid_charge.pk).amount_reserved == 2500  # only the young one


def test_settling_a_refund_already_settled_elsewhere_leaves_it_as_it_is(settings, org, paid_charge):
    settings.FLEXBILL_REQUESTED_REFUND_GRACE_SECONDS = 0
    refund = requested_refund(org, paid_charge, created_ago=timedelta(seconds=5))
    Refund.objects.filter(pk=refund.pk).update(status="failed")

    services.refund_settle(refund=refund, resend=False)

    assert Refund.objects.get(pk=refund.pk).status == "failed"
    assert refund_events(refund) == []


def test_a_requested_refund_sent_again_is_refunded_in_stripe_once(org, owner, paid_charge):
    refund = requested_refund(org, paid_charge, created_by=owner.user)

    services.refund_settle(refund=refund, resend=True)
    services.refund_settle(refund=Refund.objects.get(pk=refund.pk), resend=True)

    settled = Refund.objects.get(pk=refund.pk)
    assert settled.status == "succeeded"
    in_stripe = list(stripe_client(org).v1.refunds.list(params={"charge": paid_charge.stripe_charge_id}))
    assert [(r.id, r.amount) for r in in_stripe] == [(settled.stripe_refund_id, 2500)]


def test_a_replayed_key_with_another_request_is_refused_and_a_stale_requested_one_is_settled(
    settings, org, owner, paid_charge
):
    body = {"amount": 2500, "reason": "requested_by_customer", "note": "", "credit_note": False, "currency": None}
    in_flight_for = settings.FLEXBILL_STRIPE_TIMEOUT * (settings.FLEXBILL_STRIPE_MAX_RETRIES + 1) + 5
    fresh = requested_refund(
        org, paid_charge, idempotency_key="k-fresh", request_fingerprint=request_fingerprint(paid_charge.pk, body)
    )
    stale = requested_refund(
        org,
        paid_charge,
        created_ago=timedelta(seconds=in_flight_for + 1),
        idempotency_key="k-stale",
        request_fingerprint=request_fingerprint(paid_charge.pk, body),
    )

    with pytest.raises(Conflict) as refused:
        services.refund_create(
            actor=Actor.for_membership(owner), charge=paid_charge, amount=2400, idempotency_key="k-fresh"
        )
    assert (refused.value.code, refused.value.detail) == (
        "idempotency_key_reused",
        "This Idempotency-Key was already used with different parameters.",
    )

    # A replay while the first attempt may still be talking to Stripe answers with it as it stands.
    assert (
        services.refund_create(
            actor=Actor.for_membership(owner), charge=paid_charge, amount=2500, idempotency_key="k-fresh"
        )
        == fresh
    )
    assert Refund.objects.get(pk=fresh.pk).status == "requested"
    # A replay after that settles it with Stripe.
    services.refund_create(
        actor=Actor.for_membership(owner), charge=paid_charge, amount=2500, idempotency_key="k-stale"
    )
    assert Refund.objects.get(pk=stale.pk).status == "succeeded"


def test_every_event_of_a_refund_names_its_invoice_and_stripe_s_answer_is_stamped_with_when_it_was_read(
    owner, paid_charge
):
    asked_at = timezone.now()
    refund = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=2500)

    events = refund_events(refund)
    assert [e[0] for e in events] == ["refund.requested", "refund.succeeded"]
    assert {e[4] for e in events} == {paid_charge.invoice_id}
    synced_at = Refund.objects.get(pk=refund.pk).stripe_synced_at
    assert synced_at is not None and asked_at <= synced_at <= timezone.now()


def test_settling_adopts_the_refund_stripe_made_for_it_in_the_name_of_who_settles(org, owner, paid_charge):
    refund = requested_refund(org, paid_charge)
    stripe_id = stripe_refund_for_reference(
        org, charge_id=paid_charge.stripe_charge_id, amount=2500, reference=refund.reference
    )

    services.refund_settle(refund=refund, resend=True, actor=Actor.for_user(owner.user))

    settled = Refund.objects.get(pk=refund.pk)
    assert (settled.status, settled.stripe_refund_id) == ("succeeded", stripe_id)
    [event] = AuditEvent.objects.filter(object_type="refund", object_id=str(refund.pk))
    assert (event.action, event.actor_user_id, event.invoice_id) == (
        "refund.succeeded",
        owner.user.pk,
        paid_charge.invoice_id,
    )
    assert len(list(stripe_client(org).v1.refunds.list(params={"charge": paid_charge.stripe_charge_id}))) == 1


def test_a_refund_is_kept_requested_until_its_grace_period_is_fully_over(settings, org, paid_charge):
    settings.FLEXBILL_REQUESTED_REFUND_GRACE_SECONDS = 600
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        refund = requested_refund(org, paid_charge)
        Refund.objects.filter(pk=refund.pk).update(created_at=now - timedelta(seconds=600))
        services.refund_settle(refund=Refund.objects.get(pk=refund.pk), resend=False)
    assert Refund.objects.get(pk=refund.pk).status == "canceled"


def test_settling_when_stripe_cannot_be_asked_says_so_and_changes_nothing(settings, org, paid_charge):
    refund = requested_refund(org, paid_charge)
    settings.FLEXBILL_STRIPE_API_BASE = UNREACHABLE_STRIPE

    with pytest.raises(StripeFailed) as failed:
        services.refund_settle(refund=refund, resend=True)

    assert failed.value.detail.startswith("Stripe could not be asked about this refund: ")
    assert Refund.objects.get(pk=refund.pk).status == "requested"


def test_releasing_a_reservation_removes_only_that_refund_and_only_while_it_is_still_requested(org, paid_charge):
    released = requested_refund(org, paid_charge, amount=1000)
    other = requested_refund(org, paid_charge, amount=2000)
    canceled = requested_refund(org, paid_charge, amount=3000)
    Refund.objects.filter(pk=canceled.pk).update(status="canceled")

    _release(refund=released, actor=SYSTEM, message="Card declined")
    _release(refund=canceled, actor=SYSTEM, message="Card declined")

    assert set(Refund.objects.values_list("pk", flat=True)) == {other.pk, canceled.pk}
    assert paid_charge.__class__.objects.get(pk=paid_charge.pk).amount_reserved == 2000


@pytest.mark.parametrize(("beyond", "settled"), [(timedelta(0), False), (timedelta(milliseconds=500), True)])
def test_a_replay_settles_a_requested_refund_only_once_its_first_attempt_is_surely_over(
    settings, org, owner, paid_charge, beyond, settled
):
    """The first attempt may still be talking to Stripe for FLEXBILL_STRIPE_TIMEOUT per try, plus 5 seconds."""
    settings.FLEXBILL_STRIPE_MAX_RETRIES = 2  # three tries
    body = {"amount": 2500, "reason": "requested_by_customer", "note": "", "credit_note": False, "currency": None}
    in_flight_for = timedelta(seconds=settings.FLEXBILL_STRIPE_TIMEOUT * (settings.FLEXBILL_STRIPE_MAX_RETRIES + 1) + 5)
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        refund = requested_refund(
            org, paid_charge, idempotency_key="k", request_fingerprint=request_fingerprint(paid_charge.pk, body)
        )
        Refund.objects.filter(pk=refund.pk).update(created_at=now - in_flight_for - beyond)
        services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=2500, idempotency_key="k")
    assert Refund.objects.get(pk=refund.pk).status == ("succeeded" if settled else "requested")


def test_an_idempotency_key_is_one_organizations_so_another_may_use_the_same_key(
    org, owner, paid_charge, make_org, make_member, make_paid_charge
):
    other = make_org()
    theirs = services.refund_create(
        actor=Actor.for_membership(make_member(other, "owner")),
        charge=make_paid_charge(other),
        amount=700,
        idempotency_key="k-1",
    )

    ours = services.refund_create(
        actor=Actor.for_membership(owner), charge=paid_charge, amount=2500, idempotency_key="k-1"
    )

    assert ours.pk != theirs.pk
    assert (ours.organization_id, ours.amount, ours.status) == (org.pk, 2500, "succeeded")


def test_a_refund_in_another_currency_than_the_charges_is_refused_before_anything_is_recorded(owner, paid_charge):
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=100, currency="eur")

    assert refused.value.refusal is Refusal.CURRENCY_MISMATCH
    assert not Refund.objects.exists()


def test_a_refund_is_bounded_by_what_the_invoice_may_still_refund_after_money_returned_by_credit_note(
    owner, paid_charge
):
    services.credit_note_create(
        actor=Actor.for_membership(owner),
        invoice=paid_charge.invoice,
        amount=7000,
        reason="Cash back",
        refund_method="cash",
    )

    with pytest.raises(RefundRefused) as refused:
        services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=3001)

    assert refused.value.refusal is Refusal.REFUNDS_EXCEED_PAID
    assert services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge).amount == 3000


def test_every_attempt_to_send_a_refund_carries_its_one_idempotency_key_so_stripe_refunds_it_once(
    settings, owner, paid_charge
):
    with recording_stripe() as (url, received):
        settings.FLEXBILL_STRIPE_API_BASE = url
        with pytest.raises(StripeFailed):
            services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=1000)

    refund = Refund.objects.get(charge=paid_charge)
    keys = {headers.get("Idempotency-Key") for headers in received}
    assert received and keys == {f"flexbill-refund-{refund.reference}"}
