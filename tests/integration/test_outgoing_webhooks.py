"""Outgoing webhooks for integrators: signed with the documented scheme, retried with backoff, resendable."""

import json

import pytest

from flexbill.billing import services
from flexbill.errors import InvalidInput
from flexbill.outbox.models import OutboxEvent
from flexbill.outgoing.models import WebhookDelivery
from flexbill.outgoing.services import retry_delay, webhook_deliver, webhook_endpoint_create, webhook_resend
from flexbill.outgoing.signing import HEADER, verify
from webhook_servers import Receiver


@pytest.fixture
def receiver(settings):
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
    r = Receiver()
    yield r
    r.close()


def test_refund_events_reach_the_endpoint_signed_with_the_documented_scheme(
    org, owner, paid_charge, receiver, django_capture_on_commit_callbacks
):
    endpoint = webhook_endpoint_create(organization=org, url=receiver.url, event_types=["refund.succeeded"])

    with django_capture_on_commit_callbacks(execute=True):
        services.refund_create(membership=owner, charge=paid_charge, amount=1500)

    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert verify(secret=endpoint.secret, body=body, header=headers[HEADER])
    assert not verify(secret="fbwh_wrong", body=body, header=headers[HEADER])
    event = json.loads(body)
    assert event["type"] == "refund.succeeded"
    assert event["data"]["object"]["status"] == "succeeded"
    assert event["data"]["previous_attributes"]["status"] == "requested"
    assert headers["Flexbill-Version"] == event["flexbill_version"] == "1"
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "succeeded"
    assert event["id"] == str(delivery.event_id) == str(OutboxEvent.objects.get(type="refund.succeeded").event_id)


def test_failing_receiver_is_retried_with_backoff_until_it_accepts(org, owner, paid_charge, receiver):
    endpoint = webhook_endpoint_create(organization=org, url=receiver.url)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="charge.updated", payload={"type": "x"})
    receiver.statuses = [500, 503]

    assert webhook_deliver(delivery=delivery) == "pending"
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.last_status_code == 500
    assert delivery.next_attempt_at is not None
    assert webhook_deliver(delivery=delivery) == "pending"
    assert webhook_deliver(delivery=delivery) == "succeeded"
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.delivered_at is not None
    assert len(receiver.requests) == 3
    assert retry_delay(1) < retry_delay(2) < retry_delay(3)


def test_delivery_gives_up_after_the_last_attempt(org, receiver):
    endpoint = webhook_endpoint_create(organization=org, url=receiver.url)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="charge.updated", payload={})
    receiver.statuses = [500] * 10
    for _ in range(6):
        webhook_deliver(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.next_attempt_at is None


def test_resend_delivers_the_same_event_again_as_a_new_logged_delivery(
    org, receiver, django_capture_on_commit_callbacks
):
    endpoint = webhook_endpoint_create(organization=org, url=receiver.url)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="charge.updated", payload={"a": 1})
    webhook_deliver(delivery=delivery)

    with django_capture_on_commit_callbacks(execute=True):
        copy = webhook_resend(delivery=delivery)

    copy.refresh_from_db()
    assert copy.pk != delivery.pk and copy.event_id == delivery.event_id
    assert copy.status == "succeeded"
    assert [json.loads(b)["id"] for _, b in receiver.requests] == [str(delivery.event_id)] * 2


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http://example.com/hook"])
def test_endpoint_url_must_be_https(org, url):
    with pytest.raises(InvalidInput):
        webhook_endpoint_create(organization=org, url=url)
