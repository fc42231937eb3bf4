"""Outgoing webhooks page: only for members who manage invoices, scoped to their organization, CSRF on every POST."""

import pytest
from django.test import Client

from flexbill.audit.models import AuditEvent
from flexbill.choices import DeliveryStatus
from flexbill.outgoing.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from flexbill.outgoing.services import webhook_endpoint_create
from outgoing_urls import INTERNAL_URLS

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/flexbill"
THEIR_URL = "https://hooks.example.org/another-organization"


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


@pytest.fixture
def delivery(org):
    endpoint = webhook_endpoint_create(organization=org, url=URL, event_types=["refund.succeeded"])
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="refund.succeeded", payload={"id": "evt"}, status="failed", attempts=6
    )


@pytest.fixture
def no_sending(settings):
    """Resending queues an HTTP delivery; the page's job ends at queueing it, so tasks are kept, not run."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.mark.parametrize("role", ["member", "custom", "clerk"])
def test_members_without_invoices_manage_get_403_on_get_and_post(client, org, make_member, delivery, role):
    client.force_login(make_member(org, role).user)
    endpoint = delivery.endpoint
    assert client.get("/integrations/webhooks/").status_code == 403
    assert client.post("/integrations/webhooks/", {"url": URL}).status_code == 403
    assert client.get(f"/integrations/webhooks/{endpoint.pk}/").status_code == 403
    assert client.post(f"/integrations/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend/").status_code == 403
    assert client.post(f"/integrations/webhooks/{endpoint.pk}/pause/").status_code == 403
    assert client.post(f"/integrations/webhooks/{endpoint.pk}/delete/").status_code == 403
    assert WebhookEndpoint.objects.filter(active=True).count() == 1 and WebhookDelivery.objects.count() == 1
    assert b"Webhooks</a>" not in client.get("/").content


def test_admin_registers_an_endpoint_and_sees_its_secret_once(client, org, make_member):
    client.force_login(make_member(org, "admin").user)
    assert b'href="/integrations/webhooks/"' in client.get("/").content

    events = ["refund.failed", "refund.succeeded"]
    response = client.post("/integrations/webhooks/", {"url": URL, "event_types": events})

    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(organization=org)
    assert endpoint.url == URL and endpoint.event_types == events
    html = response.content.decode()
    assert endpoint.secret in html and "Flexbill-Signature: t=&lt;unix seconds&gt;,v1=" in html
    again = client.get("/integrations/webhooks/").content.decode()
    assert URL in again and endpoint.secret not in again


def test_no_event_ticked_subscribes_to_every_event(owner_client, org):
    owner_client.post("/integrations/webhooks/", {"url": URL})
    assert WebhookEndpoint.objects.get(organization=org).event_types == list(EVENT_TYPES)


@pytest.mark.parametrize("url", ["http://insecure.example.com/", "ftp://example.com/x", "not a url", ""])
def test_a_bad_url_is_explained_next_to_the_field(owner_client, url):
    response = owner_client.post("/integrations/webhooks/", {"url": url})
    assert response.status_code == 200
    assert b'class="field-error"' in response.content
    assert not WebhookEndpoint.objects.exists()


def test_an_unknown_event_type_is_refused_in_the_form(owner_client):
    response = owner_client.post("/integrations/webhooks/", {"url": URL, "event_types": ["invoice.exploded"]})
    assert response.status_code == 200 and b'class="field-error"' in response.content
    assert not WebhookEndpoint.objects.exists()


def test_delivery_log_lists_the_endpoints_deliveries(owner_client, delivery):
    response = owner_client.get(f"/integrations/webhooks/{delivery.endpoint_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-delivery-id="{delivery.pk}"' in html and "refund.succeeded" in html and "Failed" in html


def test_resend_creates_a_new_delivery_of_the_same_event(owner_client, delivery, no_sending):
    url = f"/integrations/webhooks/{delivery.endpoint_id}/deliveries/{delivery.pk}/resend/"
    response = owner_client.post(url, follow=True)

    assert response.redirect_chain[-1][0] == f"/integrations/webhooks/{delivery.endpoint_id}/"
    copy = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert (copy.endpoint_id, copy.event_id, copy.event_type) == (
        delivery.endpoint_id,
        delivery.event_id,
        delivery.event_type,
    )
    assert copy.status == "pending" and copy.attempts == 0
    assert f"queued again as #{copy.pk}" in response.content.decode()
    assert f'data-delivery-id="{copy.pk}"' in response.content.decode()


def test_resend_needs_post_and_a_csrf_token(org, owner, delivery, no_sending):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    url = f"/integrations/webhooks/{delivery.endpoint_id}/deliveries/{delivery.pk}/resend/"
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert client.post("/integrations/webhooks/", {"url": URL}).status_code == 403
    assert WebhookDelivery.objects.count() == 1 and WebhookEndpoint.objects.count() == 1


def test_another_organizations_endpoint_and_delivery_are_not_found(owner_client, make_org, delivery, no_sending):
    other_org = make_org()
    theirs = webhook_endpoint_create(organization=other_org, url=THEIR_URL)
    their_delivery = WebhookDelivery.objects.create(endpoint=theirs, event_type="refund.created", payload={})
    assert owner_client.get(f"/integrations/webhooks/{theirs.pk}/").status_code == 404
    theirs_resend = f"/integrations/webhooks/{theirs.pk}/deliveries/{their_delivery.pk}/resend/"
    assert owner_client.post(theirs_resend).status_code == 404
    # their delivery through our endpoint's URL
    mine = delivery.endpoint_id
    assert owner_client.post(f"/integrations/webhooks/{mine}/deliveries/{their_delivery.pk}/resend/").status_code == 404
    assert owner_client.get("/integrations/webhooks/999999/").status_code == 404
    assert THEIR_URL not in owner_client.get("/integrations/webhooks/").content.decode()
    assert WebhookDelivery.objects.count() == 2


@pytest.mark.parametrize(("url", "what"), INTERNAL_URLS, ids=[w for _, w in INTERNAL_URLS])
def test_an_internal_address_is_refused_next_to_the_field(owner_client, url, what):
    response = owner_client.post("/integrations/webhooks/", {"url": url})
    assert response.status_code == 200
    assert b'class="field-error"' in response.content and b"internal address" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_endpoint_pages_are_never_cached_above_all_the_one_showing_the_secret(owner_client, delivery):
    created = owner_client.post("/integrations/webhooks/", {"url": URL})
    assert b'data-testid="endpoint-secret"' in created.content
    pages = [
        created,
        owner_client.get("/integrations/webhooks/"),
        owner_client.get(f"/integrations/webhooks/{delivery.endpoint_id}/"),
    ]
    for page in pages:
        assert "no-store" in page["Cache-Control"]


def test_the_endpoint_page_pauses_resumes_and_deletes_the_endpoint(owner_client, owner, delivery):
    endpoint = delivery.endpoint
    page = owner_client.get(f"/integrations/webhooks/{endpoint.pk}/").content.decode()
    assert f'action="/integrations/webhooks/{endpoint.pk}/pause/"' in page
    assert f'action="/integrations/webhooks/{endpoint.pk}/delete/"' in page

    paused = owner_client.post(f"/integrations/webhooks/{endpoint.pk}/pause/", follow=True)
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert "Endpoint paused" in paused.content.decode()
    assert f'action="/integrations/webhooks/{endpoint.pk}/resume/"' in paused.content.decode()

    owner_client.post(f"/integrations/webhooks/{endpoint.pk}/resume/")
    endpoint.refresh_from_db()
    assert endpoint.active

    deleted = owner_client.post(f"/integrations/webhooks/{endpoint.pk}/delete/", follow=True)
    assert deleted.redirect_chain[-1][0] == "/integrations/webhooks/"
    assert "was deleted" in deleted.content.decode()
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert list(AuditEvent.objects.filter(object_type="webhookendpoint").values_list("action", "actor_label")) == [
        ("webhook_endpoint.created", "system"),
        ("webhook_endpoint.paused", owner.user.email),
        ("webhook_endpoint.resumed", owner.user.email),
        ("webhook_endpoint.deleted", owner.user.email),
    ]


def test_pause_and_delete_need_post_and_a_csrf_token(org, owner, delivery):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    endpoint = delivery.endpoint
    for action in ("pause", "delete"):
        assert client.get(f"/integrations/webhooks/{endpoint.pk}/{action}/").status_code == 405
        assert client.post(f"/integrations/webhooks/{endpoint.pk}/{action}/").status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.active


def test_another_organizations_endpoint_cannot_be_paused_or_deleted(owner_client, make_org):
    theirs = webhook_endpoint_create(organization=make_org(), url=URL)
    for action in ("pause", "resume", "delete"):
        assert owner_client.post(f"/integrations/webhooks/{theirs.pk}/{action}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.active


def test_resending_to_a_paused_endpoint_is_explained(owner_client, delivery, no_sending):
    endpoint = delivery.endpoint
    owner_client.post(f"/integrations/webhooks/{endpoint.pk}/pause/")
    response = owner_client.post(f"/integrations/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend/", follow=True)
    assert "resume it before resending" in response.content.decode()
    assert WebhookDelivery.objects.count() == 1


def test_a_delivered_event_shows_as_delivered_in_the_success_colour(owner_client, delivery):
    delivery.status = DeliveryStatus.SUCCEEDED
    delivery.save()

    html = owner_client.get(f"/integrations/webhooks/{delivery.endpoint_id}/").content.decode()

    assert '<span class="badge badge-success">Delivered</span>' in html
