"""Pausing, resuming and deleting outgoing webhook endpoints: what stops being sent, and the audit trail."""

import pytest

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM
from flexbill.billing import services as billing
from flexbill.errors import Conflict
from flexbill.outbox.dispatch import outbox_dispatch_pending
from flexbill.outgoing.models import WebhookDelivery, WebhookEndpoint
from flexbill.outgoing.services import (
    deliver_webhook,
    webhook_deliver,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_set_active,
    webhook_resend,
)
from webhook_servers import Receiver


@pytest.fixture
def receiver(settings):
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
    r = Receiver()
    yield r
    r.close()


def endpoint_actions(org) -> list[str]:
    return list(
        AuditEvent.objects.filter(organization=org, object_type="webhookendpoint")
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_a_paused_endpoint_gets_no_new_deliveries_and_its_queued_ones_are_not_sent(
    org, owner, paid_charge, receiver, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # keep retries queued
    endpoint = webhook_endpoint_create(organization=org, url=receiver.url)
    billing.refund_create(membership=owner, charge=paid_charge, amount=500)
    receiver.statuses = [500] * 10
    outbox_dispatch_pending()  # first attempts fail: each delivery waits for its retry
    queued = list(WebhookDelivery.objects.filter(endpoint=endpoint))
    assert queued and {d.status for d in queued} == {"pending"}
    attempted = len(receiver.requests)

    webhook_endpoint_set_active(endpoint=endpoint, active=False, actor=SYSTEM)
    billing.refund_create(membership=owner, charge=paid_charge, amount=500)
    outbox_dispatch_pending()
    for delivery in queued:
        webhook_deliver(delivery=delivery)

    assert len(receiver.requests) == attempted  # nothing sent since the pause
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == len(queued)  # nothing new queued
    assert {(d.status, d.last_error, d.attempts) for d in WebhookDelivery.objects.filter(endpoint=endpoint)} == {
        ("failed", "Endpoint paused", 1)
    }
    with pytest.raises(Conflict):
        webhook_resend(delivery=queued[0])


def test_a_resumed_endpoint_receives_new_events_and_resent_ones(
    org, owner, paid_charge, receiver, django_capture_on_commit_callbacks
):
    endpoint = webhook_endpoint_create(organization=org, url=receiver.url, event_types=["refund.succeeded"])
    webhook_endpoint_set_active(endpoint=endpoint, active=False, actor=SYSTEM)
    paused = WebhookDelivery.objects.create(endpoint=endpoint, event_type="refund.succeeded", payload={})
    webhook_deliver(delivery=paused)

    webhook_endpoint_set_active(endpoint=endpoint, active=True, actor=SYSTEM)
    with django_capture_on_commit_callbacks(execute=True):
        billing.refund_create(membership=owner, charge=paid_charge, amount=500)
        webhook_resend(delivery=paused)

    assert len(receiver.requests) == 2


def test_deliveries_queued_for_a_deleted_endpoint_are_not_sent(org, receiver):
    endpoint = webhook_endpoint_create(organization=org, url=receiver.url)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="charge.updated", payload={})

    webhook_endpoint_delete(endpoint=endpoint, actor=SYSTEM)

    assert deliver_webhook.call(delivery.pk) == "endpoint deleted"  # the queued task runs after the deletion
    assert webhook_deliver(delivery=delivery) == "endpoint deleted"  # a worker that had already loaded it
    assert receiver.requests == []
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()


def test_creating_pausing_resuming_and_deleting_an_endpoint_is_audited_without_the_secret(org, owner):
    from flexbill.audit.services import Actor

    actor = Actor.for_user(owner.user)
    endpoint = webhook_endpoint_create(organization=org, url="https://public.test/hook", actor=actor)
    webhook_endpoint_set_active(endpoint=endpoint, active=False, actor=actor)
    webhook_endpoint_set_active(endpoint=endpoint, active=False, actor=actor)  # already paused: nothing to record
    webhook_endpoint_set_active(endpoint=endpoint, active=True, actor=actor)
    webhook_endpoint_delete(endpoint=endpoint, actor=actor)

    assert endpoint_actions(org) == [
        "webhook_endpoint.created",
        "webhook_endpoint.paused",
        "webhook_endpoint.resumed",
        "webhook_endpoint.deleted",
    ]
    events = AuditEvent.objects.filter(organization=org, object_type="webhookendpoint")
    assert {e.actor_label for e in events} == {owner.user.email}
    assert all(e.object_id == str(endpoint.pk) for e in events)
    assert events.get(action="webhook_endpoint.deleted").before["url"] == "https://public.test/hook"
    assert endpoint.secret not in str([(e.before, e.after, e.message) for e in events])
