"""Refund approvals beyond the HTTP layer (docs/rules.md, rule 21): two approvers at once, expiry by the worker's
housekeeping, e-mails to approvers, outgoing webhook events, and Stripe's own refunds overtaking a waiting one."""

import itertools
import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from flexbill.accounts.preferences import approvers_count, organization_preferences_update
from flexbill.accounts.team import member_change_role
from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, Refund
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.billing.services.approvals import refund_approve, refund_reject
from flexbill.errors import Conflict, PermissionDenied
from flexbill.ops.housekeeping import housekeeping
from flexbill.outgoing.services import webhook_endpoint_create
from flexbill.stripe_gateway.client import gateway_for
from flexbill_demo.stripe_dashboard import stripe_refund_directly
from threads import run_together
from webhook_servers import Receiver


def stripe_refunds(charge) -> list:
    return gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


@pytest.fixture
def team(org, owner, make_member):
    """owner, admin and a clerk (may refund, may not approve), with approvals from 50.00 on."""
    admin = make_member(org, "admin")
    clerk = make_member(org, "clerk")
    organization_preferences_update(actor=Actor.for_membership(owner), refund_approval_threshold=5000)
    return owner, admin, clerk


def waiting_refund(clerk, charge, amount=8000) -> Refund:
    refund = services.refund_create(actor=Actor.for_membership(clerk), charge=charge, amount=amount)
    assert refund.status == "awaiting_approval"
    return refund


# Two people at once -------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_make_exactly_one_approval_and_one_stripe_refund(team, paid_charge):
    owner, admin, clerk = team
    refund = waiting_refund(clerk, paid_charge)
    approvers = itertools.cycle([owner, admin])
    pick = threading.Lock()

    def approve_as_next():
        with pick:
            approver = next(approvers)
        return refund_approve(actor=Actor.for_membership(approver), refund=refund)

    results = run_together(approve_as_next, n=2)

    approved = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if not isinstance(r, Refund)]
    assert len(approved) == 1, results
    assert [(type(r), r.refusal) for r in refused] == [(RefundRefused, Refusal.NOT_AWAITING_APPROVAL)]
    assert approved[0].status == "succeeded"
    assert [(r.id, r.amount) for r in stripe_refunds(paid_charge)] == [(approved[0].stripe_refund_id, 8000)]
    assert AuditEvent.objects.filter(object_id=str(refund.pk), action="refund.approved").count() == 1
    assert fresh(paid_charge).amount_refunded == 8000


@pytest.mark.django_db(transaction=True)
def test_approve_and_reject_at_once_leave_one_decision(team, paid_charge):
    owner, admin, clerk = team
    refund = waiting_refund(clerk, paid_charge)
    turns = itertools.cycle(
        [
            lambda: refund_approve(actor=Actor.for_membership(owner), refund=refund),
            lambda: refund_reject(actor=Actor.for_membership(admin), refund=refund, reason="No"),
        ]
    )
    pick = threading.Lock()

    def decide():
        with pick:
            action = next(turns)
        return action()

    results = run_together(decide, n=2)

    decided = [r for r in results if isinstance(r, Refund)]
    assert len(decided) == 1, results
    assert isinstance(next(r for r in results if r not in decided), RefundRefused)
    refund = fresh(refund)
    if refund.status == "canceled":
        assert stripe_refunds(paid_charge) == []
        assert fresh(paid_charge).amount_reserved == 0
    else:
        assert refund.status == "succeeded"
        assert len(stripe_refunds(paid_charge)) == 1


# Expiry -----------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_worker_expires_refunds_that_waited_longer_than_the_approval_time(team, paid_charge, make_paid_charge):
    _, _, clerk = team
    old = waiting_refund(clerk, paid_charge)
    recent = waiting_refund(clerk, make_paid_charge(paid_charge.organization))
    Refund.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=7, seconds=1))
    Refund.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=6, hours=23))

    assert housekeeping()["refund_approvals_expired"] == 1

    old, recent = fresh(old), fresh(recent)
    assert (old.status, recent.status) == ("canceled", "awaiting_approval")
    assert "7 days" in old.failure_reason
    assert fresh(paid_charge).amount_reserved == 0
    event = AuditEvent.objects.get(object_id=str(old.pk), action="refund.approval_expired")
    assert (event.actor_type, event.after["status"]) == (SYSTEM.type, "canceled")
    assert stripe_refunds(paid_charge) == []
    assert housekeeping()["refund_approvals_expired"] == 0


@pytest.mark.django_db
def test_the_approval_time_is_configurable(settings, team, paid_charge):
    settings.FLEXBILL_REFUND_APPROVAL_DAYS = 1
    refund = waiting_refund(team[2], paid_charge)
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(days=1))

    assert housekeeping()["refund_approvals_expired"] == 1
    assert fresh(refund).status == "canceled"


@pytest.mark.django_db
def test_approving_an_expired_refund_is_refused_and_expires_it(team, paid_charge):
    owner, _, clerk = team
    refund = waiting_refund(clerk, paid_charge)

    with pytest.raises(RefundRefused) as refused:
        refund_approve(actor=Actor.for_membership(owner), refund=refund, now=timezone.now() + timedelta(days=8))

    assert (refused.value.refusal, refused.value.status) == (Refusal.APPROVAL_EXPIRED, 409)
    assert fresh(refund).status == "canceled"
    assert fresh(paid_charge).amount_reserved == 0
    assert stripe_refunds(paid_charge) == []


@pytest.mark.django_db(transaction=True)
def test_two_demotions_at_once_never_leave_fewer_than_two_approvers(org, owner, make_member):
    """Three approvers: each demotion alone leaves two, both together would leave one; the organization's lock lets
    exactly one through."""
    first, second = make_member(org, "admin"), make_member(org, "admin")
    organization_preferences_update(actor=Actor.for_membership(owner), refund_approval_threshold=5000)
    targets = iter([first, second])
    pick = threading.Lock()

    def demote_next():
        with pick:
            member = next(targets)
        return member_change_role(actor=Actor.for_membership(owner), member=member, role="member")

    results = run_together(demote_next, n=2)

    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(refused) == 1 and refused[0].code == "approvers_missing", results
    assert approvers_count(organization_id=org.pk) == 2


# Marking the charge refunded -----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_marking_a_charge_refunded_withdraws_its_waiting_refund_and_nothing_reaches_stripe(team, paid_charge):
    owner, admin, clerk = team
    refund = waiting_refund(clerk, paid_charge)

    services.charge_mark_refunded(actor=Actor.for_membership(owner), charge=fresh(paid_charge), via="status")

    withdrawn = fresh(refund)
    assert withdrawn.status == "canceled"
    assert "marked refunded" in withdrawn.failure_reason
    charge = fresh(paid_charge)
    assert (charge.status, charge.amount_reserved, charge.amount_refunded) == ("refunded", 0, 0)
    assert fresh(paid_charge.invoice).amount_refunded == charge.amount  # the mark counts all of it, once
    audit = AuditEvent.objects.get(action="refund.approval_withdrawn")
    assert (audit.object_id, audit.actor_user_id) == (str(refund.pk), owner.user_id)
    with pytest.raises(RefundRefused) as refused:
        refund_approve(actor=Actor.for_membership(admin), refund=withdrawn)
    assert refused.value.refusal is Refusal.NOT_AWAITING_APPROVAL
    assert stripe_refunds(paid_charge) == []


@pytest.mark.django_db
def test_a_refused_mark_leaves_the_waiting_refund_waiting(team, paid_charge):
    owner, _, clerk = team
    refund = waiting_refund(clerk, paid_charge)
    member = Actor.for_membership(clerk)  # a clerk may refund but not change a charge's status

    with pytest.raises(PermissionDenied):
        services.charge_mark_refunded(actor=member, charge=fresh(paid_charge), via="status")

    assert fresh(refund).status == "awaiting_approval"
    assert fresh(paid_charge).amount_reserved == refund.amount


# Stripe's own refunds ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_refund_made_in_stripe_that_leaves_no_room_releases_the_waiting_one(team, paid_charge):
    refund = waiting_refund(team[2], paid_charge)
    stripe_refund_directly(paid_charge.organization, charge_id=paid_charge.stripe_charge_id, amount=5000)

    services.charge_sync_refunds(charge=fresh(paid_charge), refunds=stripe_refunds(paid_charge))

    assert fresh(refund).status == "canceled"
    charge = fresh(paid_charge)
    assert (charge.amount_reserved, charge.amount_refunded) == (5000, 5000)


# E-mails and webhooks ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_approvers_other_than_the_requester_are_emailed_when_a_refund_waits(
    team, make_member, paid_charge, mailoutbox, django_capture_on_commit_callbacks
):
    owner, admin, clerk = team
    make_member(paid_charge.organization, "member")
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_create(actor=Actor.for_membership(admin), charge=paid_charge, amount=6000)

    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == [owner.user.email]  # not the admin who asked, not the clerk or member who may not approve
    assert "awaiting your approval" in email.subject
    assert "$60.00" in email.subject
    assert admin.user.email in email.body
    assert "/approvals/" in email.body
    assert f"Refund {refund.pk}." in email.body


@pytest.mark.django_db
def test_approval_events_reach_outgoing_webhooks(
    settings, team, make_paid_charge, paid_charge, django_capture_on_commit_callbacks
):
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
    owner, admin, clerk = team
    receiver = Receiver()
    try:
        webhook_endpoint_create(
            organization=paid_charge.organization,
            url=receiver.url,
            event_types=["refund.awaiting_approval", "refund.approved", "refund.rejected"],
            actor=SYSTEM,
        )
        other = make_paid_charge(paid_charge.organization)
        with django_capture_on_commit_callbacks(execute=True):
            approved = waiting_refund(clerk, paid_charge)
            refund_approve(actor=Actor.for_membership(admin), refund=approved)
            rejected = waiting_refund(clerk, other)
            refund_reject(actor=Actor.for_membership(owner), refund=rejected, reason="Duplicate request")
        events = [json.loads(body) for _, body in receiver.requests]
    finally:
        receiver.close()

    assert [(e["type"], e["data"]["object"]["id"], e["data"]["object"]["status"]) for e in events] == [
        ("refund.awaiting_approval", approved.pk, "awaiting_approval"),
        ("refund.approved", approved.pk, "requested"),
        ("refund.awaiting_approval", rejected.pk, "awaiting_approval"),
        ("refund.rejected", rejected.pk, "canceled"),
    ]
    assert events[1]["actor"]["label"] == admin.user.email  # who approved it


@pytest.mark.django_db
def test_waiting_and_approved_refunds_keep_invoice_figures_within_paid(team, paid_charge):
    owner, _, clerk = team
    refund = waiting_refund(clerk, paid_charge, amount=10000)
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(actor=Actor.for_membership(owner), charge=fresh(paid_charge), amount=1)
    assert refused.value.refusal is Refusal.ALREADY_REFUNDED

    refund_approve(actor=Actor.for_membership(owner), refund=refund)

    charge = Charge.objects.select_related("invoice").get(pk=paid_charge.pk)
    assert (charge.status, charge.invoice.status, charge.invoice.amount_refunded) == ("refunded", "refunded", 10000)
