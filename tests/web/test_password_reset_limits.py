""" "Forgot your password?" is open to anyone, so its e-mails are limited: per client address, and per account in
every spelling of its e-mail, without telling whether an account exists (accounts/password_resets.py)."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from flexbill.accounts.action_limits import action_counts_prune
from flexbill.accounts.models import ActionCount
from flexbill.accounts.password_resets import ACCOUNT_LIMIT, ADDRESS_LIMIT
from threads import run_together

pytestmark = pytest.mark.django_db


def ask_reset(email: str, address: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=address).post("/password-reset/", {"email": email})


def test_an_account_gets_at_most_its_share_of_reset_e_mails_and_every_answer_looks_the_same(owner):
    answers = [ask_reset(owner.user.email, address=f"198.51.100.{n}") for n in range(ACCOUNT_LIMIT + 2)]

    assert [(a.status_code, a["Location"]) for a in answers] == [(302, "/password-reset/sent/")] * (ACCOUNT_LIMIT + 2)
    assert len(mail.outbox) == ACCOUNT_LIMIT


def test_every_spelling_of_an_accounts_e_mail_counts_against_the_same_share(owner):
    local, domain = owner.user.email.split("@")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in local)
    spellings = [owner.user.email.upper(), f"  {owner.user.email}  ", f"{fullwidth}@{domain}", owner.user.email]

    for n, spelling in enumerate(spellings):
        ask_reset(spelling, address=f"198.51.100.{n}")

    assert len(mail.outbox) == ACCOUNT_LIMIT


def test_one_address_asking_too_often_is_told_to_wait_whatever_e_mails_it_names(owner):
    for n in range(ADDRESS_LIMIT):
        assert ask_reset(f"nobody{n}@example.com").status_code == 302

    refused = ask_reset(owner.user.email)

    assert refused.status_code == 429
    assert "Too many password-reset requests from here. Try again in 15 minutes." in refused.content.decode()
    assert mail.outbox == []  # the refused request named a real account: still nothing sent
    assert ask_reset(owner.user.email, address="192.0.2.1").status_code == 302  # other addresses are not held up
    assert len(mail.outbox) == 1


def test_one_ipv6_64_counts_as_one_address(owner):
    for n in range(ADDRESS_LIMIT):
        assert ask_reset(f"nobody{n}@example.com", address=f"2001:db8:5:5::{n + 1:x}").status_code == 302

    assert ask_reset(owner.user.email, address="2001:db8:5:5:abcd::9").status_code == 429


def test_unknown_and_known_addresses_get_the_same_answer_past_the_limit(owner):
    for n in range(ACCOUNT_LIMIT + 1):
        known = ask_reset(owner.user.email, address=f"198.51.100.{n}")
        unknown = ask_reset("nobody@example.com", address=f"198.51.100.{n}")
        assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])


def test_a_new_window_gives_the_account_its_share_again(owner):
    for n in range(ACCOUNT_LIMIT):
        ask_reset(owner.user.email, address=f"198.51.100.{n}")
    ActionCount.objects.update(window_started_at=timezone.now() - timedelta(hours=1, seconds=1))

    ask_reset(owner.user.email, address="192.0.2.1")

    assert len(mail.outbox) == ACCOUNT_LIMIT + 1


@pytest.mark.django_db(transaction=True)
def test_requests_arriving_at_once_never_send_more_than_the_accounts_share(owner):
    addresses = iter(f"198.51.100.{n}" for n in range(8))
    pick = threading.Lock()

    def ask_from_next_address():
        with pick:
            address = next(addresses)
        return ask_reset(owner.user.email, address=address).status_code

    results = run_together(ask_from_next_address, n=8)

    assert results == [302] * 8
    assert len(mail.outbox) == ACCOUNT_LIMIT


def test_housekeeping_drops_counts_whose_window_ended_long_ago(owner):
    ask_reset(owner.user.email)
    ActionCount.objects.update(window_started_at=timezone.now() - timedelta(days=2))
    ask_reset("someone@example.com", address="192.0.2.9")

    assert action_counts_prune(now=timezone.now()) == 2  # the old address and account rows; the new ones stay
    assert sorted(ActionCount.objects.values_list("key", flat=True)) == [
        "password-reset:from:192.0.2.9",
        "password-reset:to:someone@example.com",
    ]
