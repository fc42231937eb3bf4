"""Connecting an organization to Stripe: a secret key is saved only once Stripe accepts it in one read call, the
signing secret must look like one, only owners change either, nothing secret is audited, and the test event is
verified with the stored signing secret through the webhook endpoint's own path."""

import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from flexbill.accounts.models import Organization
from flexbill.audit.models import AuditEvent
from flexbill.audit.services import Actor
from flexbill.billing.models import WebhookEvent
from flexbill.billing.rules import REFUND_EVENT_TYPES as REFUND_EVENTS
from flexbill.billing.services.stripe_connection import stripe_connection_update, stripe_test_event_send
from flexbill.billing.stripe_connection import STRIPE_EVENTS, stripe_connection_get
from flexbill.errors import InvalidInput, PermissionDenied, StripeFailed

pytestmark = pytest.mark.django_db

NEW_KEY = "sk_test_NewConnectionKey0123"
NEW_LIVE_KEY = "sk_live_NewConnectionKey4567"
REFUSED_KEY = "rk_test_NotAcceptedLocally89"  # the local Stripe accepts only sk_ keys: a key Stripe refuses
NEW_SECRET = "whsec_NewSigningSecret0123456789"


@pytest.fixture
def unconnected(make_org, make_member):
    organization = make_org(stripe_secret_key="", stripe_webhook_secret="")
    return make_member(organization, "owner")


def secrets_of(organization_id: int) -> tuple[str, str]:
    fresh = Organization.objects.get(pk=organization_id)
    return fresh.stripe_secret_key, fresh.stripe_webhook_secret


def test_a_key_stripe_accepts_is_saved_with_its_mode_and_audited_without_the_key(unconnected):
    stripe_connection_update(actor=Actor.for_membership(unconnected), secret_key=f"  {NEW_KEY}\n")

    assert secrets_of(unconnected.organization_id) == (NEW_KEY, "")
    connection = stripe_connection_get(organization=Organization.objects.get(pk=unconnected.organization_id))
    assert (connection.connected, connection.mode, connection.secret_key_last4) == (True, "test", "0123")
    event = AuditEvent.objects.get(organization_id=unconnected.organization_id)
    assert event.action == "stripe.secret_key_changed" and event.actor_user == unconnected.user
    assert event.after == {"set": True, "last4": "0123", "mode": "test"}
    assert event.before == {"set": False, "last4": "", "mode": None}
    assert NEW_KEY not in json.dumps([event.before, event.after, event.message])


def test_a_live_key_shows_live_mode(unconnected, settings):
    settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = False  # flexbill uses a live key with none
    stripe_connection_update(actor=Actor.for_membership(unconnected), secret_key=NEW_LIVE_KEY)
    organization = Organization.objects.get(pk=unconnected.organization_id)
    assert stripe_connection_get(organization=organization).mode == "live"


def test_a_key_stripe_refuses_is_a_400_and_nothing_is_saved(owner):
    before = secrets_of(owner.organization_id)
    with pytest.raises(InvalidInput) as refused:
        stripe_connection_update(actor=Actor.for_membership(owner), secret_key=REFUSED_KEY, webhook_secret=NEW_SECRET)
    assert refused.value.code == "secret_key_refused" and "Nothing was saved" in refused.value.detail
    assert REFUSED_KEY not in refused.value.detail
    assert secrets_of(owner.organization_id) == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("stripe_down", ["http://127.0.0.1:9"])  # nothing listens there
def test_stripe_unreachable_is_a_502_and_nothing_is_saved(owner, settings, stripe_down):
    before = secrets_of(owner.organization_id)
    settings.FLEXBILL_STRIPE_API_BASE = stripe_down
    with pytest.raises(StripeFailed) as failed:
        stripe_connection_update(actor=Actor.for_membership(owner), secret_key=NEW_KEY, webhook_secret=NEW_SECRET)
    assert failed.value.code == "stripe_unreachable" and "Nothing was saved" in failed.value.detail
    assert secrets_of(owner.organization_id) == before and not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"secret_key": "pk_test_PublishableKey012345"}, "secret_key_invalid"),
        ({"secret_key": "whsec_NotAKeyButASecret01234"}, "secret_key_invalid"),
        ({"secret_key": "   "}, "secret_missing"),
        ({"secret_key": "sk_test_" + "x" * 300}, "secret_invalid"),
        ({"webhook_secret": NEW_KEY}, "webhook_secret_invalid"),
        ({"webhook_secret": "whsec_with spaces inside it"}, "webhook_secret_invalid"),
        ({"webhook_secret": ""}, "secret_missing"),
        # A valid key with a bad signing secret: neither is saved, and Stripe is not even asked.
        ({"secret_key": NEW_KEY, "webhook_secret": "not-a-secret"}, "webhook_secret_invalid"),
        ({}, "nothing_to_change"),
    ],
)
def test_malformed_keys_and_secrets_are_refused_and_nothing_is_saved(owner, fields, code):
    before = secrets_of(owner.organization_id)
    with pytest.raises(InvalidInput) as refused:
        stripe_connection_update(actor=Actor.for_membership(owner), **fields)
    assert refused.value.code == code
    assert secrets_of(owner.organization_id) == before and not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", ["admin", "member", "clerk"])
def test_only_an_owner_changes_the_stripe_connection(org, make_member, role):
    membership = make_member(org, role)
    before, audited = secrets_of(org.pk), AuditEvent.objects.count()  # making a custom role is audited too
    with pytest.raises(PermissionDenied):
        stripe_connection_update(actor=Actor.for_membership(membership), secret_key=NEW_KEY)
    with pytest.raises(PermissionDenied):
        stripe_connection_update(actor=Actor.for_membership(membership), webhook_secret=NEW_SECRET)
    with pytest.raises(PermissionDenied):
        stripe_test_event_send(actor=Actor.for_membership(membership))
    assert secrets_of(org.pk) == before and AuditEvent.objects.count() == audited
    assert not WebhookEvent.objects.exists()


def test_a_new_signing_secret_is_what_deliveries_are_verified_with_from_then_on(owner, client: Client):
    stripe_connection_update(actor=Actor.for_membership(owner), webhook_secret=NEW_SECRET)
    event = AuditEvent.objects.get(action="stripe.webhook_secret_changed")
    assert NEW_SECRET not in json.dumps([event.before, event.after, event.message])

    body = json.dumps({"id": "evt_1", "type": "ping", "data": {"object": {}}})
    stamp = int(time.time())

    def signed_with(secret: str) -> str:
        return f"t={stamp},v1={hmac.new(secret.encode(), f'{stamp}.{body}'.encode(), hashlib.sha256).hexdigest()}"

    url = f"/webhooks/stripe/{owner.organization.slug}/"
    old = client.post(
        url, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed_with("whsec_test_flexbill")
    )
    new = client.post(url, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed_with(NEW_SECRET))
    assert (old.status_code, new.status_code) == (400, 200)


def test_the_test_event_is_verified_with_the_stored_signing_secret_and_stored(
    unconnected, django_capture_on_commit_callbacks
):
    stripe_connection_update(actor=Actor.for_membership(unconnected), secret_key=NEW_KEY, webhook_secret=NEW_SECRET)

    with django_capture_on_commit_callbacks(execute=True):  # the worker takes the stored event in: it ignores a ping
        result = stripe_test_event_send(actor=Actor.for_membership(unconnected))

    assert result.verified
    delivery = WebhookEvent.objects.get(event_id=result.event_id)
    assert delivery.verified and delivery.organization_id == unconnected.organization_id
    assert delivery.event_type == "ping" and delivery.processed_at is not None
    assert json.loads(delivery.body)["livemode"] is False
    health = stripe_connection_get(organization=unconnected.organization).health
    assert (health.last_event_type, health.verified, health.processed, health.rejected) == ("ping", 1, 1, 0)
    assert AuditEvent.objects.filter(action="stripe.test_event_sent", after__verified=True).exists()


def test_the_test_event_needs_a_signing_secret_first(unconnected):
    with pytest.raises(InvalidInput) as refused:
        stripe_test_event_send(actor=Actor.for_membership(unconnected))
    assert refused.value.code == "webhook_secret_missing" and not WebhookEvent.objects.exists()


def test_sync_health_counts_the_last_24_hours_of_this_organization_only(org, owner, make_org, client):
    other = make_org()
    WebhookEvent.objects.create(organization=other, org_slug=other.slug, body="{}", verified=True, event_type="x")
    old = WebhookEvent.objects.create(organization=org, org_slug=org.slug, body="{}", verified=True, event_type="old")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=old.received_at.replace(year=2020))
    WebhookEvent.objects.create(organization=org, org_slug=org.slug, body="{}", verified=False)
    WebhookEvent.objects.create(  # the worker could not apply it yet
        organization=org, org_slug=org.slug, body="{}", verified=True, event_type="refund.updated", attempts=1
    )

    health = stripe_connection_get(organization=org).health

    assert (health.verified, health.processed, health.failed, health.rejected) == (1, 0, 1, 1)
    assert health.last_event_type == "refund.updated"


def test_the_events_to_select_in_stripe_are_the_ones_flexbill_processes():
    assert set(STRIPE_EVENTS) == REFUND_EVENTS
