"""Bulk refunds through the REST API: every status of a batch and of its items, and every error code
(docs/rules.md, rule 22)."""

import json

import pytest

from api_calls import assert_error, post, post_raw
from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, Refund
from flexbill.refund_batches.models import RefundBatch, RefundBatchItem
from flexbill.refund_batches.services import refund_batch_claim, refund_batch_run
from flexbill.stripe_gateway.client import gateway_for

URL = "/api/v1/refund-batches"


def stripe_refunds(charge) -> list[int]:
    return [r.amount for r in gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)]


def run(batch_id: int) -> None:
    """What the worker does with a queued batch (the test database never commits, so nothing queues it here)."""
    assert refund_batch_run(batch_id=batch_id, token=str(RefundBatch.objects.get(pk=batch_id).claim_token))


@pytest.fixture
def owner_api(api_client, owner):
    return api_client(owner)


@pytest.fixture
def two_paid(org, make_paid_charge):
    return [make_paid_charge(org, amount=10000), make_paid_charge(org, amount=3333)]


def test_a_batch_is_queued_with_202_and_counts_nothing_done_yet(owner_api, two_paid):
    response = post(owner_api, URL, {"charges": [c.pk for c in two_paid], "amount": "full", "reason": "other"})

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert (body["total"], body["pending"], body["succeeded"], body["refused"]) == (2, 2, 0, 0)
    assert (body["failed"], body["awaiting_approval"]) == (0, 0)
    assert (body["amount"], body["reason"]) == ("full", "other")
    assert not Refund.objects.exists()  # nothing is sent before the worker runs it


def test_a_batch_the_worker_runs_refunds_every_charge_and_is_done(owner_api, two_paid):
    batch_id = post(owner_api, URL, {"charges": [c.pk for c in two_paid], "amount": "full"}).json()["id"]
    run(batch_id)

    body = owner_api.get(f"{URL}/{batch_id}").json()
    assert body["status"] == "done"
    assert (body["total"], body["pending"], body["succeeded"]) == (2, 0, 2)
    assert [i["charge"] for i in body["items"]] == [c.pk for c in two_paid]
    assert {i["status"] for i in body["items"]} == {"succeeded"}
    for item, charge in zip(body["items"], two_paid, strict=True):
        assert Refund.objects.get(pk=item["refund"]).charge_id == charge.pk
        assert stripe_refunds(charge) == [charge.amount]
        assert Charge.objects.get(pk=charge.pk).status == "refunded"


def test_a_batch_being_run_is_running(owner_api, two_paid):
    batch_id = post(owner_api, URL, {"charges": [c.pk for c in two_paid], "amount": "full"}).json()["id"]
    refund_batch_claim(batch_id=batch_id, token=str(RefundBatch.objects.get(pk=batch_id).claim_token))

    assert owner_api.get(f"{URL}/{batch_id}").json()["status"] == "running"


def test_a_percent_batch_refunds_each_charge_its_share_rounded_half_up(org, owner_api, make_paid_charge):
    charges = [make_paid_charge(org, amount=a) for a in (3333, 1, 49)]
    batch_id = post(owner_api, URL, {"charges": [c.pk for c in charges], "amount": {"percent": 50}}).json()["id"]
    run(batch_id)
    one_percent = post(owner_api, URL, {"charges": [charges[2].pk], "amount": {"percent": 1}}).json()["id"]
    run(one_percent)

    assert [stripe_refunds(c) for c in charges] == [[1667], [1], [25]]  # 1666.5 → 1667, 0.5 → 1, 24.5 → 25
    item = owner_api.get(f"{URL}/{one_percent}").json()["items"][0]
    # 1 % of the 49 charged is 0.49: nothing to refund, so the item is refused and never sent.
    assert (item["status"], item["refund"]) == ("refused", None)
    assert item["detail"] == "1 % of this charge rounds to nothing, so there is nothing to refund."
    assert stripe_refunds(charges[2]) == [25]


def test_items_not_refundable_are_refused_with_the_refusals_sentence_and_never_sent(
    org, owner, owner_api, make_paid_charge, make_customer, make_invoice, stripe_requests
):
    refunded = make_paid_charge(org, amount=5000)
    services.refund_create(actor=Actor.for_membership(owner), charge=refunded)
    customer, _ = make_customer(org)
    xero = services.charge_record(
        invoice=make_invoice(org, customer, total=4000), source="xero", amount=4000, reference="X-1", actor=SYSTEM
    )
    fine = make_paid_charge(org, amount=2000)
    batch_id = post(owner_api, URL, {"charges": [refunded.pk, xero.pk, fine.pk], "amount": "full"}).json()["id"]
    stripe_requests.clear()
    run(batch_id)

    body = owner_api.get(f"{URL}/{batch_id}").json()
    assert (body["succeeded"], body["refused"], body["failed"]) == (1, 2, 0)
    refused = {i["charge"]: i["detail"] for i in body["items"] if i["status"] == "refused"}
    assert refused == {
        refunded.pk: "This charge is already fully refunded.",
        xero.pk: "Only charges made through flexbill's Stripe integration can be refunded here; this charge was "
        "recorded from another system (Xero, QuickBooks or manually). Record the refund with a credit note.",
    }
    posts = [path for method, path in stripe_requests if method == "POST"]
    assert posts == ["v1/refunds"]  # only the refundable charge reached Stripe
    assert stripe_refunds(refunded) == [5000]


def test_an_item_stripe_refuses_is_failed_with_what_stripe_said(org, owner_api, make_paid_charge):
    good = make_paid_charge(org, amount=2000)
    lost = make_paid_charge(org, amount=3000)
    Charge.objects.filter(pk=lost.pk).update(stripe_charge_id="ch_stripe_never_made_this")
    batch_id = post(owner_api, URL, {"charges": [lost.pk, good.pk], "amount": "full"}).json()["id"]
    run(batch_id)

    body = owner_api.get(f"{URL}/{batch_id}").json()
    assert (body["status"], body["succeeded"], body["failed"]) == ("done", 1, 1)
    failed = body["items"][0]
    assert failed["status"] == "failed"
    assert failed["detail"].startswith("Stripe did not refund:")
    assert Charge.objects.get(pk=lost.pk).amount_reserved == 0  # the reservation was released
    assert stripe_refunds(good) == [2000]


def test_an_item_at_or_above_the_approval_threshold_waits_for_approval_and_is_not_sent(
    org, owner, owner_api, make_member, make_paid_charge
):
    make_member(org, "admin")  # approvals need two members who may approve
    response = owner_api.patch(
        "/api/v1/organization", data=json.dumps({"refund_approval_threshold": 5000}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    large, small = make_paid_charge(org, amount=8000), make_paid_charge(org, amount=2000)
    batch_id = post(owner_api, URL, {"charges": [large.pk, small.pk], "amount": "full"}).json()["id"]
    run(batch_id)

    body = owner_api.get(f"{URL}/{batch_id}").json()
    assert (body["status"], body["awaiting_approval"], body["succeeded"]) == ("done", 1, 1)
    held, sent = body["items"]
    assert (held["charge"], held["status"]) == (large.pk, "awaiting_approval")
    assert Refund.objects.get(pk=held["refund"]).status == "awaiting_approval"
    assert stripe_refunds(large) == []  # nothing reaches Stripe before a second person approves it
    assert (sent["status"], stripe_refunds(small)) == ("succeeded", [2000])


def test_running_a_batch_again_never_refunds_a_charge_twice(owner_api, two_paid):
    batch_id = post(owner_api, URL, {"charges": [c.pk for c in two_paid], "amount": "full"}).json()["id"]
    run(batch_id)
    first = list(RefundBatchItem.objects.filter(batch_id=batch_id).values_list("refund_id", flat=True))
    # As if the worker had died after refunding, before recording the items: run every item again.
    RefundBatchItem.objects.filter(batch_id=batch_id).update(status="pending", refund=None)
    RefundBatch.objects.filter(pk=batch_id).update(status="running", claimed_until=None)
    assert refund_batch_run(batch_id=batch_id)

    assert list(RefundBatchItem.objects.filter(batch_id=batch_id).values_list("refund_id", flat=True)) == first
    assert {i.status for i in RefundBatchItem.objects.filter(batch_id=batch_id)} == {"succeeded"}
    for charge in two_paid:
        assert stripe_refunds(charge) == [charge.amount]
        assert Refund.objects.filter(charge=charge).count() == 1


def test_every_status_change_of_a_batch_and_its_items_is_audited(owner, owner_api, two_paid):
    batch_id = post(owner_api, URL, {"charges": [c.pk for c in two_paid], "amount": "full"}).json()["id"]
    run(batch_id)

    batch_events = AuditEvent.objects.filter(object_type="refundbatch", object_id=str(batch_id)).order_by("id")
    assert [(e.action, e.after["status"]) for e in batch_events] == [
        ("refund_batch.queued", "queued"),
        ("refund_batch.running", "running"),
        ("refund_batch.done", "done"),
    ]
    assert batch_events[0].actor_user == owner.user
    assert batch_events[2].after["succeeded"] == 2
    items = AuditEvent.objects.filter(action="refund_batch.item_succeeded")
    assert sorted(e.after["charge"] for e in items) == sorted(c.pk for c in two_paid)
    assert {e.invoice_id for e in items} == {c.invoice_id for c in two_paid}


# Refused whole, before anything is sent ------------------------------------------------------------------------
def test_more_than_1000_charges_is_a_400_and_nothing_is_queued(owner_api, paid_charge):
    response = post(owner_api, URL, {"charges": list(range(1, 1002)), "amount": "full"})

    body = assert_error(response, 400, "too_many_charges")
    assert "at most 1000" in body["detail"]
    assert not RefundBatch.objects.exists()


def test_a_charge_of_another_organization_is_a_404_and_nothing_is_queued_or_sent(
    owner_api, paid_charge, make_org, make_paid_charge
):
    theirs = make_paid_charge(make_org(), amount=4000)
    response = post(owner_api, URL, {"charges": [paid_charge.pk, theirs.pk], "amount": "full"})

    body = assert_error(response, 404, "charge_not_found")
    assert str(theirs.pk) in body["detail"]
    assert not RefundBatch.objects.exists()
    assert not Refund.objects.exists()
    assert stripe_refunds(paid_charge) == stripe_refunds(theirs) == []


def test_an_unknown_charge_is_a_404(owner_api, paid_charge):
    assert_error(post(owner_api, URL, {"charges": [paid_charge.pk, 2**62], "amount": "full"}), 404, "charge_not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"charges": [], "amount": "full"}, "invalid"),
        ({"amount": "full"}, "invalid"),
        ({"charges": ["1"], "amount": "full"}, "invalid"),
        ({"charges": [True], "amount": "full"}, "invalid"),
        ({"charges": [1.0], "amount": "full"}, "invalid"),
        ({"charges": [0], "amount": "full"}, "invalid"),
        ({"charges": [[1]], "amount": "full"}, "invalid"),
        ({"charges": {"1": 1}, "amount": "full"}, "invalid"),
        ({"charges": [1]}, "invalid"),
        ({"charges": [1], "amount": "half"}, "invalid"),
        ({"charges": [1], "amount": "FULL"}, "invalid"),
        ({"charges": [1], "amount": 500}, "invalid"),
        ({"charges": [1], "amount": {"percent": 0}}, "invalid"),
        ({"charges": [1], "amount": {"percent": 101}}, "invalid"),
        ({"charges": [1], "amount": {"percent": -5}}, "invalid"),
        ({"charges": [1], "amount": {"percent": "10"}}, "invalid"),
        ({"charges": [1], "amount": {"percent": "١٠"}}, "invalid"),  # Arabic-Indic digits
        ({"charges": [1], "amount": {"percent": 12.5}}, "invalid"),
        ({"charges": [1], "amount": {"percent": True}}, "invalid"),
        ({"charges": [1], "amount": {"percent": 10, "amount": 5}}, "invalid"),
        ({"charges": [1], "amount": {}}, "invalid"),
        ({"charges": [1], "amount": "full", "reason": "because"}, "invalid"),
        ({"charges": [1], "amount": "full", "note": "x" * 1001}, "invalid"),
    ],
)
def test_a_malformed_batch_is_a_400_and_nothing_is_queued(owner_api, body, code):
    assert_error(post(owner_api, URL, body), 400, code)
    assert not RefundBatch.objects.exists()


def test_a_charge_named_twice_is_a_400(owner_api, paid_charge):
    response = post(owner_api, URL, {"charges": [paid_charge.pk, paid_charge.pk], "amount": "full"})
    body = assert_error(response, 400, "charges_duplicate")
    assert str(paid_charge.pk) in body["detail"]


def test_a_member_who_may_not_refund_gets_403_and_nothing_is_queued(org, make_member, api_client, paid_charge):
    for role in ("member", "custom"):
        response = post(api_client(make_member(org, role)), URL, {"charges": [paid_charge.pk], "amount": "full"})
        assert_error(response, 403, "permission_denied")
    assert not RefundBatch.objects.exists()


def test_a_clerk_who_may_refund_may_queue_a_batch_and_any_member_may_follow_it(
    org, make_member, api_client, paid_charge
):
    clerk = api_client(make_member(org, "clerk"))
    batch_id = post(clerk, URL, {"charges": [paid_charge.pk], "amount": "full"}).json()["id"]
    assert api_client(make_member(org, "member")).get(f"{URL}/{batch_id}").status_code == 200


def test_a_batch_whose_requester_lost_the_refund_permission_refuses_its_items(org, make_member, api_client, two_paid):
    clerk = make_member(org, "clerk")
    batch_id = post(api_client(clerk), URL, {"charges": [c.pk for c in two_paid], "amount": "full"}).json()["id"]
    clerk.custom_role.permissions = []
    clerk.custom_role.save()
    run(batch_id)

    items = RefundBatchItem.objects.filter(batch_id=batch_id)
    assert {(i.status, i.detail) for i in items} == {
        ("refused", "You do not have permission to do this. Ask an owner or admin of your organization.")
    }
    assert not Refund.objects.exists()


def test_another_organizations_batch_is_a_404(owner_api, make_org, make_member, api_client, make_paid_charge):
    other = make_org()
    theirs = make_paid_charge(other)
    their_api = api_client(make_member(other, "owner"))
    batch_id = post(their_api, URL, {"charges": [theirs.pk], "amount": "full"}).json()["id"]

    assert_error(owner_api.get(f"{URL}/{batch_id}"), 404, "not_found")
    assert_error(owner_api.get(f"{URL}/{2**62}"), 404, "not_found")
    assert_error(owner_api.get(f"{URL}/0"), 400)


def test_without_a_token_it_is_a_401(api_client, paid_charge):
    assert_error(post(api_client(), URL, {"charges": [paid_charge.pk], "amount": "full"}), 401, "unauthenticated")
    assert_error(api_client().get(f"{URL}/1"), 401, "unauthenticated")


def test_a_charge_still_in_an_unfinished_batch_is_a_409_and_nothing_more_is_queued(owner_api, two_paid):
    first = post(owner_api, URL, {"charges": [c.pk for c in two_paid], "amount": {"percent": 10}}).json()["id"]
    again = post(owner_api, URL, {"charges": [two_paid[1].pk], "amount": {"percent": 10}})

    body = assert_error(again, 409, "charge_in_batch")
    assert body["detail"] == f"Refund batch {first} is still refunding charge {two_paid[1].pk}; wait until it is done."
    assert RefundBatch.objects.count() == 1


# Idempotency-Key ---------------------------------------------------------------------------------------------
def test_a_retry_with_the_same_idempotency_key_answers_with_the_first_batch_and_refunds_once(
    owner_api, two_paid, django_capture_on_commit_callbacks
):
    body = {"charges": [c.pk for c in two_paid], "amount": {"percent": 20}}
    with django_capture_on_commit_callbacks() as queued:
        first = post(owner_api, URL, body, **{"Idempotency-Key": "batch-1"})
    assert first.status_code == 202, first.content
    assert len(queued) == 1  # the worker's first run

    # The client's POST timed out and it sends it again, while the batch waits for the worker: the same batch.
    with django_capture_on_commit_callbacks() as queued:
        again = post(owner_api, URL, body, **{"Idempotency-Key": "batch-1"})
    assert (again.status_code, again.json()) == (202, first.json())
    assert queued == []  # nothing queued twice

    run(first.json()["id"])
    # Again once the batch is done (its charges are free for another batch by then): still the same batch, as it
    # stands now, and no second 20 %.
    with django_capture_on_commit_callbacks() as queued:
        late = post(owner_api, URL, body, **{"Idempotency-Key": "batch-1"})
    assert late.status_code == 202, late.content
    now = owner_api.get(f"{URL}/{first.json()['id']}").json()
    assert late.json() == {k: v for k, v in now.items() if k != "items"}
    assert (late.json()["status"], late.json()["succeeded"]) == ("done", 2)
    assert queued == []
    assert RefundBatch.objects.count() == 1
    assert [stripe_refunds(c) for c in two_paid] == [[2000], [667]]  # 20 % once: 3333 → 666.6 → 667
    for charge in two_paid:
        assert Refund.objects.filter(charge=charge).count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"amount": {"percent": 10}},
        {"amount": "full"},
        {"charges": "first only"},
        {"reason": "requested_by_customer"},  # the default, spelled out: another body
        {"note": "again"},
    ],
)
def test_an_idempotency_key_reused_with_another_body_is_a_409_and_creates_nothing(owner_api, two_paid, changed):
    body = {"charges": [c.pk for c in two_paid], "amount": {"percent": 20}}
    first = post(owner_api, URL, body, **{"Idempotency-Key": "batch-2"}).json()["id"]
    run(first)
    if changed.get("charges") == "first only":
        changed = {"charges": [two_paid[0].pk]}

    response = post(owner_api, URL, {**body, **changed}, **{"Idempotency-Key": "batch-2"})

    body = assert_error(response, 409, "idempotency_key_reused")
    assert body["detail"] == "This Idempotency-Key was already used with different parameters."
    assert list(RefundBatch.objects.values_list("pk", flat=True)) == [first]
    assert [stripe_refunds(c) for c in two_paid] == [[2000], [667]]


def test_the_same_body_with_its_keys_in_another_order_is_the_same_request(owner_api, paid_charge):
    raw = json.dumps({"charges": [paid_charge.pk], "amount": {"percent": 20}, "note": "x"})
    reordered = json.dumps({"note": "x", "amount": {"percent": 20}, "charges": [paid_charge.pk]}, separators=(",", ":"))
    first = post_raw(owner_api, URL, raw, **{"Idempotency-Key": "batch-3"})
    again = post_raw(owner_api, URL, reordered, **{"Idempotency-Key": "batch-3"})

    assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])
    assert RefundBatch.objects.count() == 1


def test_an_idempotency_key_is_one_organizations_so_another_may_use_the_same_key(
    owner_api, paid_charge, make_org, make_member, api_client, make_paid_charge
):
    other = make_org()
    theirs = make_paid_charge(other, amount=4000)
    ours = post(owner_api, URL, {"charges": [paid_charge.pk], "amount": "full"}, **{"Idempotency-Key": "shared"})
    their_answer = post(
        api_client(make_member(other, "owner")),
        URL,
        {"charges": [theirs.pk], "amount": "full"},
        **{"Idempotency-Key": "shared"},
    )

    assert (ours.status_code, their_answer.status_code) == (202, 202)
    assert ours.json()["id"] != their_answer.json()["id"]
    assert RefundBatch.objects.get(pk=their_answer.json()["id"]).organization_id == other.pk
    run(their_answer.json()["id"])
    assert stripe_refunds(theirs) == [4000]


def test_member_replaying_an_owners_idempotency_key_is_a_403_not_the_batch(
    org, owner_api, make_member, api_client, paid_charge
):
    body = {"charges": [paid_charge.pk], "amount": "full"}
    post(owner_api, URL, body, **{"Idempotency-Key": "owner-batch"})

    response = post(api_client(make_member(org, "member")), URL, body, **{"Idempotency-Key": "owner-batch"})

    assert_error(response, 403, "permission_denied")
    assert RefundBatch.objects.count() == 1


# What a key may be, on both endpoints that take one: the same rule, the same answer.
@pytest.mark.parametrize(
    ("key", "taken"),
    [
        ("", False),
        ("K" * 256, False),
        ("K" * 255, True),
        ("K", True),
        (" ", True),
        ("kеy", True),  # Cyrillic е: text that looks like "key" is another key (below)
        ("ｋｅｙ", True),  # full-width letters
    ],
)
def test_an_idempotency_key_is_taken_or_refused_as_on_refunds(owner_api, make_paid_charge, org, key, taken):
    batch_charge, refund_charge = make_paid_charge(org, amount=2000), make_paid_charge(org, amount=3000)
    batch = post(owner_api, URL, {"charges": [batch_charge.pk], "amount": "full"}, **{"Idempotency-Key": key})
    refund = post(owner_api, f"/api/v1/charges/{refund_charge.pk}/refunds", {"amount": 100}, **{"Idempotency-Key": key})

    if taken:
        assert (batch.status_code, refund.status_code) == (202, 201), (batch.content, refund.content)
        assert RefundBatch.objects.get().idempotency_key == key
        return
    refusal = {"detail": "Idempotency-Key must be 1 to 255 characters.", "code": "idempotency_key_invalid"}
    assert (batch.status_code, batch.json()) == (refund.status_code, refund.json()) == (400, refusal)
    assert not RefundBatch.objects.exists()
    assert not Refund.objects.exists()


def test_a_look_alike_key_in_another_script_is_another_key(owner_api, two_paid):
    latin = post(owner_api, URL, {"charges": [two_paid[0].pk], "amount": "full"}, **{"Idempotency-Key": "key-1"})
    cyrillic = post(owner_api, URL, {"charges": [two_paid[1].pk], "amount": "full"}, **{"Idempotency-Key": "kеy-1"})

    assert (latin.status_code, cyrillic.status_code) == (202, 202)
    assert latin.json()["id"] != cyrillic.json()["id"]
