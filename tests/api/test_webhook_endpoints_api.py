"""Webhook endpoints through the API: only public https addresses are registered; endpoints are paused, resumed and
deleted by those who may create them, within their own organization; answers about endpoints are never cached."""

import json

import pytest

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM
from flexbill.outgoing.models import WebhookDelivery, WebhookEndpoint
from flexbill.outgoing.services import webhook_endpoint_create
from outgoing_urls import INTERNAL_URLS, MALFORMED_URLS, PUBLIC_URLS

pytestmark = pytest.mark.django_db
URL = "https://public.test/hook"


@pytest.fixture
def api(api_client, owner):
    return api_client(owner)


@pytest.fixture
def endpoint(org):
    return webhook_endpoint_create(organization=org, url=URL, actor=SYSTEM)


def post(api, body):
    return api.post("/api/v1/webhook-endpoints", data=json.dumps(body), content_type="application/json")


def patch(api, endpoint_id, body):
    return api.patch(f"/api/v1/webhook-endpoints/{endpoint_id}", data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("url", "what"), INTERNAL_URLS + MALFORMED_URLS, ids=[w for _, w in INTERNAL_URLS + MALFORMED_URLS]
)
def test_internal_and_malformed_urls_are_refused_as_url_invalid(api, url, what):
    response = post(api, {"url": url})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "url_invalid" and response.json()["detail"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_public_https_urls_are_registered_and_the_secret_answer_is_not_stored(api, url):
    response = post(api, {"url": url})
    assert response.status_code == 201, response.content
    assert response.json()["secret"].startswith("fbwh_")
    assert "no-store" in response["Cache-Control"]


def test_answers_about_endpoints_are_never_cached(api, endpoint):
    for response in (
        api.get("/api/v1/webhook-endpoints"),
        api.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries"),
        patch(api, endpoint.pk, {"active": False}),
    ):
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]


def test_pausing_and_resuming_an_endpoint(api, endpoint):
    paused = patch(api, endpoint.pk, {"active": False})
    assert paused.status_code == 200
    assert paused.json() == {"id": endpoint.pk, "url": URL, "event_types": endpoint.event_types, "active": False}
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert patch(api, endpoint.pk, {"active": True}).json()["active"] is True
    assert [e.action for e in AuditEvent.objects.filter(object_type="webhookendpoint").order_by("id")] == [
        "webhook_endpoint.created",
        "webhook_endpoint.paused",
        "webhook_endpoint.resumed",
    ]


@pytest.mark.parametrize("body", [{}, {"active": "false"}, {"active": 0}, {"active": None}, {"url": URL}])
def test_a_pause_request_needs_active_true_or_false(api, endpoint, body):
    response = patch(api, endpoint.pk, body)
    assert response.status_code == 400 and set(response.json()) == {"detail", "code"}
    endpoint.refresh_from_db()
    assert endpoint.active


def test_deleting_an_endpoint_removes_it_and_its_delivery_log(api, endpoint):
    WebhookDelivery.objects.create(endpoint=endpoint, event_type="charge.updated", payload={})
    response = api.delete(f"/api/v1/webhook-endpoints/{endpoint.pk}")
    assert response.status_code == 204 and response.content == b""
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert api.delete(f"/api/v1/webhook-endpoints/{endpoint.pk}").status_code == 404
    assert AuditEvent.objects.filter(action="webhook_endpoint.deleted", object_id=str(endpoint.pk)).exists()


def test_resending_to_a_paused_endpoint_is_a_conflict(api, endpoint):
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="charge.updated", payload={})
    patch(api, endpoint.pk, {"active": False})
    response = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}/resend")
    assert response.status_code == 409 and response.json()["code"] == "endpoint_paused"
    assert WebhookDelivery.objects.count() == 1


def test_another_organizations_endpoint_is_not_found_and_does_not_change(api, make_org):
    theirs = webhook_endpoint_create(organization=make_org(), url=URL, actor=SYSTEM)
    assert patch(api, theirs.pk, {"active": False}).status_code == 404
    assert api.delete(f"/api/v1/webhook-endpoints/{theirs.pk}").status_code == 404
    assert api.delete("/api/v1/webhook-endpoints/999999").status_code == 404
    theirs.refresh_from_db()
    assert theirs.active


@pytest.mark.parametrize("role", ["member", "custom"])
def test_pausing_and_deleting_need_the_permission_that_creating_needs(api_client, org, make_member, endpoint, role):
    api = api_client(make_member(org, role))
    assert patch(api, endpoint.pk, {"active": False}).status_code == 403
    assert api.delete(f"/api/v1/webhook-endpoints/{endpoint.pk}").status_code == 403
    assert post(api, {"url": URL}).status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.active and WebhookEndpoint.objects.count() == 1
