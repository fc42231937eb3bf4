"""GET /api/v1/sync-health and POST /api/v1/sync-health/events/{id}/retry: the inbox's lag and what it cannot apply,
for members who may view; a retry for those who manage invoices, audited; never another organization's events."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from flexbill.audit.models import AuditEvent
from flexbill.billing.models import WebhookEvent

pytestmark = [pytest.mark.nostripe, pytest.mark.django_db]


def stored_event(organization, *, attempts=0, next_attempt_at=None, processed=False, error="", age=timedelta(0)):
    event = WebhookEvent.objects.create(
        organization=organization,
        org_slug=organization.slug,
        event_id=f"evt_{WebhookEvent.objects.count() + 1}",
        event_type="refund.created",
        body="{}",
        verified=True,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        last_error=error,
        processed_at=timezone.now() if processed else None,
        outcome="Charge 1: In step with Stripe." if processed else "",
    )
    if age:
        WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - age)
    return event


def test_sync_health_shows_lag_oldest_unapplied_and_failed_events_with_their_reason(api_client, org, make_member):
    stored_event(org, processed=True)
    stored_event(org, age=timedelta(minutes=3))
    waiting = stored_event(org, attempts=2, next_attempt_at=timezone.now() + timedelta(seconds=10), error="Stripe 429")
    failed = stored_event(org, attempts=12, error="Stripe could not be read: Invalid API Key provided")

    response = api_client(make_member(org, "member")).get("/api/v1/sync-health")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["unapplied"], body["waiting"], body["failed"]) == (3, 1, 1)
    assert 175 <= body["lag_seconds"] <= 240
    assert body["oldest_unapplied_at"] and body["last_applied_at"]
    problems = {p["id"]: p for p in body["problems"]}
    assert set(problems) == {waiting.pk, failed.pk}
    assert (problems[failed.pk]["state"], problems[failed.pk]["last_error"]) == (
        "failed",
        "Stripe could not be read: Invalid API Key provided",
    )
    assert problems[waiting.pk]["state"] == "waiting"


def test_sync_health_with_nothing_waiting_has_no_lag(api_client, org, owner):
    stored_event(org, processed=True)

    body = api_client(owner).get("/api/v1/sync-health").json()

    assert (body["unapplied"], body["lag_seconds"], body["problems"]) == (0, 0.0, [])


def test_retry_makes_a_failed_event_due_now_and_is_audited(api_client, org, owner, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # queued, not run here
    failed = stored_event(org, attempts=12, error="Stripe could not be read")

    with time_machine.travel(timezone.now(), tick=False):
        response = api_client(owner).post(f"/api/v1/sync-health/events/{failed.pk}/retry")
        now = timezone.now()

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "waiting"
    event = WebhookEvent.objects.get(pk=failed.pk)
    assert (event.next_attempt_at, event.processed_at) == (now, None)
    audit = AuditEvent.objects.get(action="stripe_event.retried")
    assert (audit.actor_label, audit.object_id, audit.before["attempts"]) == (owner.user.email, str(failed.pk), 12)


def test_retry_of_an_applied_event_is_a_409(api_client, org, owner):
    applied = stored_event(org, processed=True)

    response = api_client(owner).post(f"/api/v1/sync-health/events/{applied.pk}/retry")

    assert (response.status_code, response.json()["code"]) == (409, "already_applied")


@pytest.mark.parametrize(("role", "status"), [("member", 403), ("custom", 403), ("admin", 200)])
def test_retry_needs_the_invoices_manage_permission(api_client, org, make_member, role, status, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    failed = stored_event(org, attempts=12, error="boom")

    response = api_client(make_member(org, role)).post(f"/api/v1/sync-health/events/{failed.pk}/retry")

    assert response.status_code == status, response.content
    assert AuditEvent.objects.filter(action="stripe_event.retried").count() == (1 if status == 200 else 0)


def test_another_organizations_events_are_neither_counted_nor_retried(api_client, org, owner, make_org):
    theirs = stored_event(make_org(), attempts=12, error="theirs")

    assert api_client(owner).get("/api/v1/sync-health").json()["failed"] == 0
    response = api_client(owner).post(f"/api/v1/sync-health/events/{theirs.pk}/retry")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert WebhookEvent.objects.get(pk=theirs.pk).next_attempt_at is None


def test_sync_health_needs_a_token(api_client, org):
    assert api_client().get("/api/v1/sync-health").status_code == 401
