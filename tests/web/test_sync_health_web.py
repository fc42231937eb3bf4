"""Sync health page: every member may look; only members who manage invoices may retry; scoped to the
organization; linked from the navigation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flexbill.billing.models import WebhookEvent
from web_calls import signed_in

pytestmark = [pytest.mark.nostripe, pytest.mark.django_db]


@pytest.fixture
def failed_event(org):
    return WebhookEvent.objects.create(
        organization=org,
        org_slug=org.slug,
        event_id="evt_failed_1",
        event_type="charge.refunded",
        body="{}",
        verified=True,
        attempts=12,
        last_error="Stripe could not be read: Invalid API Key provided",
    )


def test_a_member_sees_the_failed_event_and_its_reason_but_no_retry_button(org, make_member, failed_event):
    page = signed_in(make_member(org, "member")).get("/integrations/stripe-sync/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "evt_failed_1" in html and "Invalid API Key provided" in html
    assert '<span class="badge badge-failed">Failed</span>' in html  # its state, as a label
    assert 'href="/integrations/stripe-sync/"' in html  # in the navigation
    assert "Retry now" not in html


def test_an_owner_retries_a_failed_event_from_the_page(org, owner, failed_event, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    client = signed_in(owner)
    assert "Retry now" in client.get("/integrations/stripe-sync/").content.decode()

    response = client.post(f"/integrations/stripe-sync/events/{failed_event.pk}/retry/", follow=True)

    assert response.status_code == 200
    assert "will be tried again now" in response.content.decode()
    event = WebhookEvent.objects.get(pk=failed_event.pk)
    assert event.next_attempt_at is not None and event.next_attempt_at <= timezone.now() + timedelta(seconds=1)


def test_a_member_may_not_retry(org, make_member, failed_event):
    response = signed_in(make_member(org, "member")).post(f"/integrations/stripe-sync/events/{failed_event.pk}/retry/")

    assert response.status_code == 403
    assert WebhookEvent.objects.get(pk=failed_event.pk).next_attempt_at is None


def test_another_organizations_event_is_a_404(make_org, make_member, failed_event):
    other = make_org()

    response = signed_in(make_member(other, "owner")).post(f"/integrations/stripe-sync/events/{failed_event.pk}/retry/")

    assert response.status_code == 404
    assert (
        "evt_failed_1" not in signed_in(make_member(other, "owner")).get("/integrations/stripe-sync/").content.decode()
    )
