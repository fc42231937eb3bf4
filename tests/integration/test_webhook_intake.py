"""What the Stripe webhook endpoint keeps and answers before any refund is touched: anonymous deliveries cannot
grow the database without bound, cannot tell which organizations exist, and no body is a 500."""

import hashlib
import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from flexbill.billing.models import WebhookEvent
from flexbill.billing.services.inbox import SUMMARY_CHARS, rejected_deliveries_prune
from flexbill.stripe_gateway.signature import NO_SECRET
from stripe_events import BAD_DELIVERIES, deliver, deliver_bad, event, payload_of, post_raw, signature_header

# Nothing here reads Stripe: every delivery is refused or names no charge.
pytestmark = [pytest.mark.nostripe, pytest.mark.django_db]


@pytest.fixture
def client():
    return Client()


def a_verified_event() -> dict:
    return event("customer.created", {"object": "customer", "id": "cus_1"})


# Bounded storage of what fails verification ------------------------------------------------------------------------
def test_a_delivery_that_fails_verification_keeps_only_a_bounded_summary(client, org):
    body = json.dumps({"padding": "x" * 200_000})

    response = post_raw(client, org.slug, body, signature_header(body, secret="whsec_someone_else"))

    assert response.status_code == 400
    stored = WebhookEvent.objects.get()
    assert not stored.verified
    assert len(stored.body) <= SUMMARY_CHARS
    assert stored.body == body[: len(stored.body)]
    assert (stored.body_size, stored.body_sha256) == (len(body), hashlib.sha256(body.encode()).hexdigest())
    assert len(json.dumps(stored.headers)) < 1000


def test_a_verified_delivery_is_kept_whole(client, org):
    evt = a_verified_event()
    evt["data"]["object"]["description"] = "y" * 100_000

    assert deliver(client, org, evt).status_code == 200

    stored = WebhookEvent.objects.get()
    assert stored.verified and stored.body == payload_of(evt)
    assert stored.body_size == len(payload_of(evt).encode())


def test_an_anonymous_flood_keeps_at_most_the_configured_number_of_rejected_deliveries(client, org, settings):
    settings.FLEXBILL_WEBHOOK_REJECTED_KEEP = 5
    assert deliver(client, org, a_verified_event()).status_code == 200

    for n in range(30):
        slug = org.slug if n % 2 else f"guess-{n}"
        assert post_raw(client, slug, f'{{"n": {n}}}', "t=1,v1=00").status_code == 400

    rejected = WebhookEvent.objects.filter(verified=False).order_by("id")
    assert [json.loads(r.body)["n"] for r in rejected] == [25, 26, 27, 28, 29]  # the newest five
    assert WebhookEvent.objects.filter(verified=True).count() == 1  # valid deliveries are never pruned


def test_rejected_deliveries_older_than_the_retention_are_deleted(client, org, settings):
    settings.FLEXBILL_WEBHOOK_REJECTED_RETENTION_DAYS = 7
    with time_machine.travel(timezone.now() - timedelta(days=8)):
        post_raw(client, org.slug, "{}", None)
        assert deliver(client, org, a_verified_event()).status_code == 200
    with time_machine.travel(timezone.now() - timedelta(days=6)):
        post_raw(client, org.slug, '{"recent": true}', None)

    assert rejected_deliveries_prune() == 1

    assert [r.body for r in WebhookEvent.objects.filter(verified=False)] == ['{"recent": true}']
    assert WebhookEvent.objects.filter(verified=True).count() == 1


# One answer for every delivery that cannot be verified -------------------------------------------------------------
UNVERIFIABLE = ("wrong_secret", "stale_timestamp", "missing_signature", "unknown_organization")


def test_every_unverifiable_delivery_gets_the_same_answer_whether_or_not_the_organization_exists(client, org, make_org):
    evt = a_verified_event()
    no_secret = make_org(stripe_webhook_secret="")
    answers = {kind: deliver_bad(client, org, evt, kind) for kind in UNVERIFIABLE}
    answers["org_without_secret"] = deliver(client, no_secret, evt)
    answers["malformed_slug"] = post_raw(client, "Not A Slug!%20é", payload_of(evt), signature_header(payload_of(evt)))
    answers["very_long_slug"] = post_raw(client, "a" * 5000, payload_of(evt), signature_header(payload_of(evt)))

    seen = {(r.status_code, r.content) for r in answers.values()}

    assert seen == {(400, b'{"detail": "The delivery could not be verified.", "code": "unverified"}')}, answers
    assert not WebhookEvent.objects.filter(verified=True).exists()


def test_a_body_signed_with_the_stand_in_secret_of_unknown_organizations_is_not_verified(client):
    payload = payload_of(a_verified_event())

    response = post_raw(client, "no-such-org", payload, signature_header(payload, secret=NO_SECRET))

    assert response.status_code == 400
    assert not WebhookEvent.objects.filter(verified=True).exists()


@pytest.mark.parametrize("kind", sorted(set(BAD_DELIVERIES) - set(UNVERIFIABLE)))
def test_a_verified_body_that_is_not_an_event_is_refused_as_such(client, org, kind):
    response = deliver_bad(client, org, a_verified_event(), kind)

    assert (response.status_code, response.json()["code"]) == (400, "not_an_event")


# Bodies that used to be a 500 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("opening", "depth", "status"),
    [
        ("[", 900, 400),  # parsed, but data.object is a list: not an event
        ('{"a":', 900, 200),  # parsed: a refund event that names no charge, acknowledged
        ("[", 2_000, 400),
        ('{"a":', 2_000, 400),
        ("[", 100_000, 400),
        ('{"a":', 100_000, 400),
    ],
)
def test_a_signed_body_nested_deeper_than_the_parser_allows_is_a_400(client, org, opening, depth, status):
    closing = "]" if opening == "[" else "}"
    nested = opening * depth + "1" + closing * depth
    body = '{"id": "evt_deep", "type": "refund.created", "data": {"object": ' + nested + "}}"

    response = post_raw(client, org.slug, body, signature_header(body))

    assert response.status_code == status, response.content


@pytest.mark.parametrize("body", ['{"id": "evt_1", "n": ' + "9" * 5000 + "}", '{"id": "evt_1", "a": NaN}', "\ufeff{}"])
def test_signed_bodies_with_numbers_or_marks_json_allows_oddly_are_not_a_500(client, org, body):
    response = post_raw(client, org.slug, body.encode(), signature_header(body))

    assert response.status_code == 400, response.content


# The address Stripe is given ---------------------------------------------------------------------------------------
def test_the_webhook_url_without_its_trailing_slash_is_served_not_redirected(client, org):
    payload = payload_of(a_verified_event())

    response = client.post(
        f"/webhooks/stripe/{org.slug}",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature_header(payload)},
    )

    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().verified


def test_a_get_on_the_webhook_url_is_a_json_405(client, org):
    response = client.get(f"/webhooks/stripe/{org.slug}/")

    assert response.status_code == 405
    assert (response["Allow"], response.json()["code"]) == ("POST", "method_not_allowed")
