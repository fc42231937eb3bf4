"""Rows that anonymous traffic creates (sign-in counts, rejected Stripe deliveries) are kept only while they decide
something: the worker's housekeeping removes the rest, so such traffic cannot grow the database without bound."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from flexbill.accounts.models import SignInCount
from flexbill.billing.models import WebhookEvent
from flexbill.ops.housekeeping import housekeeping
from stripe_events import post_raw

pytestmark = [pytest.mark.django_db, pytest.mark.nostripe]
PASSWORD = "correct-horse-battery"  # tests/conftest.py's


def sign_in(address: str, email: str, password: str):
    return Client(REMOTE_ADDR=address).post("/login/", {"username": email, "password": password})


def test_an_anonymous_spray_of_sign_ins_leaves_no_rows_once_its_windows_have_passed(org):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(20):
            sign_in(f"203.0.113.{n}", f"nobody{n}@example.com", "guess")
            post_raw(Client(), f"guess-{n}", "{}", None)
    assert SignInCount.objects.count() == 40 and WebhookEvent.objects.count() == 20

    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        assert housekeeping()["sign_in_counts"] == 0  # still inside the windows: kept
    with time_machine.travel(start + timedelta(days=8), tick=False):
        pruned = housekeeping()
        assert pruned == {
            "rejected_webhook_deliveries": 20,
            "sign_in_counts": 40,
            "outbox_events": 0,
            "refund_approvals_expired": 0,
        }

    assert not SignInCount.objects.exists() and not WebhookEvent.objects.exists()


def test_housekeeping_keeps_what_still_decides_a_sign_in(org, owner):
    email = owner.user.email
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert sign_in("198.51.100.7", email, PASSWORD).status_code == 302  # a known address for 30 days
        for _ in range(5):
            sign_in("203.0.113.9", email, "wrong")  # this address is now refused for 15 minutes

    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        housekeeping()
        assert SignInCount.objects.filter(identity=email, address="203.0.113.9", failures=5).exists()
        assert "Try again" in sign_in("203.0.113.9", email, PASSWORD).content.decode()
    with time_machine.travel(start + timedelta(days=2), tick=False):
        housekeeping()
        assert list(SignInCount.objects.values_list("address", flat=True)) == ["198.51.100.7"]
    with time_machine.travel(start + timedelta(days=31), tick=False):
        housekeeping()
        assert not SignInCount.objects.exists()
