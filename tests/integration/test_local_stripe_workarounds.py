"""The local-Stripe workarounds are on only with FLEXBILL_LOCAL_STRIPE_WORKAROUNDS: an API base alone (a proxy in front
of Stripe) never turns them on; on while flexbill talks to Stripe itself, or with a live key, flexbill refuses to
start or to use the key, with a message naming the setting."""

import os
import subprocess
import sys
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from flexbill.accounts.models import Organization
from flexbill.audit.services import Actor
from flexbill.billing.services.stripe_connection import stripe_connection_update
from flexbill.errors import InvalidInput
from flexbill.stripe_gateway.client import gateway_for
from flexbill.stripe_gateway.types import LiveKeyRefused, StripeGatewayError
from recording_stripe import recording_stripe

LIVE_KEY = "sk_live_WorkaroundsRefuseThis01"
SETTING = "FLEXBILL_LOCAL_STRIPE_WORKAROUNDS"


def flexbill(tmp_path, *args, **env) -> subprocess.CompletedProcess:
    """`flexbill ARGS` in a fresh process whose environment has only the Stripe variables given here."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLEXBILL_") and k != "DATABASE_URL"}
    base |= {"FLEXBILL_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    command = [sys.executable, "-m", "flexbill.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=base | env, timeout=120, check=False)


def workarounds_in_a_fresh_process(tmp_path, **env) -> str:
    done = flexbill(tmp_path, "shell", "-c", f"from django.conf import settings; print(settings.{SETTING})", **env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.nostripe
def test_an_api_base_alone_such_as_a_proxy_in_front_of_stripe_leaves_the_workarounds_off(tmp_path):
    proxy = {"FLEXBILL_STRIPE_API_BASE": "https://stripe-proxy.internal.example"}
    assert workarounds_in_a_fresh_process(tmp_path, **proxy) == "False"
    assert workarounds_in_a_fresh_process(tmp_path) == "False"
    local = {"FLEXBILL_STRIPE_API_BASE": "http://127.0.0.1:8420", SETTING: "1"}
    assert workarounds_in_a_fresh_process(tmp_path, **local) == "True"


@pytest.mark.nostripe
@pytest.mark.parametrize(
    "api_base, says",
    [
        (None, "Stripe itself (no FLEXBILL_STRIPE_API_BASE)"),
        ("https://api.stripe.com", "Stripe itself (https://api.stripe.com)"),
        ("https://API.Stripe.com:443/", "Stripe itself (https://API.Stripe.com:443/)"),
    ],
)
def test_workarounds_on_while_talking_to_stripe_itself_refuse_to_start_with_a_message(tmp_path, api_base, says):
    env = {SETTING: "yes"} | ({"FLEXBILL_STRIPE_API_BASE": api_base} if api_base else {})
    done = flexbill(tmp_path, "check", **env)
    assert done.returncode == 2
    assert done.stderr.startswith(f"flexbill: {SETTING} is on but flexbill talks to {says}."), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.nostripe
@pytest.mark.parametrize("workarounds, sends_reason", [(False, True), (True, False)])
def test_stripe_s_refund_reason_is_left_out_only_with_the_workarounds_on(settings, workarounds, sends_reason):
    """The local Stripe refuses `reason`; Stripe, or a proxy in front of it, gets it."""
    organization = SimpleNamespace(name="Harbour", stripe_secret_key="sk_test_ProxyInFrontOfStripe")
    with recording_stripe() as (url, received):
        settings.FLEXBILL_STRIPE_API_BASE = url
        settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = workarounds
        with pytest.raises(StripeGatewayError):  # the recording Stripe answers 500
            gateway_for(organization).refund_create(
                charge_id="ch_1", amount=500, reason="requested_by_customer", metadata={}, idempotency_key="k1"
            )
    body = parse_qs(received[0]["body"])
    assert ("reason" in body) is sends_reason
    assert body["metadata[flexbill_reason]"] == ["requested_by_customer"]


@pytest.mark.nostripe
def test_a_live_key_is_never_used_with_the_workarounds_on_and_nothing_reaches_stripe(settings):
    organization = SimpleNamespace(name="Harbour", stripe_secret_key=LIVE_KEY)
    with recording_stripe() as (url, received):
        settings.FLEXBILL_STRIPE_API_BASE = url
        settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = True
        with pytest.raises(LiveKeyRefused, match=SETTING):
            gateway_for(organization).refunds_for_charge("ch_1")
    assert received == []


def test_connecting_a_live_key_with_the_workarounds_on_is_refused_naming_the_setting_and_saves_nothing(owner):
    before = Organization.objects.get(pk=owner.organization_id).stripe_secret_key
    with pytest.raises(InvalidInput, match=f"{SETTING}.*Nothing was saved") as refused:
        stripe_connection_update(actor=Actor.for_membership(owner), secret_key=LIVE_KEY)
    assert refused.value.code == "live_key_with_local_stripe"
    assert Organization.objects.get(pk=owner.organization_id).stripe_secret_key == before


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_the_server_and_the_worker_refuse_to_start_with_the_workarounds_on_and_a_live_key_stored(
    make_org, command, settings, monkeypatch
):
    monkeypatch.setattr(os, "execv", lambda *args: pytest.fail("serve started gunicorn"))
    make_org(slug="harbour")
    make_org(slug="live-one", stripe_secret_key=LIVE_KEY)
    settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = True
    with pytest.raises(CommandError, match=f"{SETTING} is on, and live-one has a live Stripe key"):
        call_command(command)


def test_with_the_workarounds_off_a_stored_live_key_does_not_stop_the_worker_from_starting(make_org, settings):
    from flexbill.ops.startup import refuse_live_keys_with_local_stripe_workarounds

    make_org(slug="live-one", stripe_secret_key=LIVE_KEY)
    settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = False
    refuse_live_keys_with_local_stripe_workarounds()  # returns: nothing refused
