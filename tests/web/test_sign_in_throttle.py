"""Sign-in throttling through both sign-in pages (/login/ and /platform/ Django admin): every spelling of an e-mail
counts against its account, proxies are trusted only as configured, and an attack does not lock out the owner."""

import logging
import re

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from flexbill.accounts.models import SignInCount
from flexbill.accounts.sign_in import rules
from password_checks import passwords_checked, use_counting_hasher

pytestmark = [pytest.mark.django_db, pytest.mark.nostripe]

PASSWORD = "correct-horse-battery"  # tests/conftest.py's
THROTTLED = re.compile(r"Too many failed sign-in attempts\. Try again in (\d+) (minutes?|seconds?)\.")
WRONG = "Please enter a correct"


def sign_in(client: Client, email: str, password: str, *, url: str = "/login/", **headers):
    return client.post(url, {"username": email, "password": password}, **headers)


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def is_signed_in(response) -> bool:
    return response.status_code == 302


def is_throttled(response) -> bool:
    return response.status_code == 200 and THROTTLED.search(response.content.decode()) is not None


@pytest.fixture
def counting(settings):
    use_counting_hasher(settings)


@pytest.fixture
def owner_email(owner):
    return owner.user.email  # user<n>@example.com


def spellings(email: str) -> list[str]:
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in email)
    return [email.upper(), f"  {email}  ", full_width, email.title(), f"\u3000{full_width.upper()}\u00a0"]


def test_every_look_alike_spelling_of_an_email_signs_in_as_its_account(owner, owner_email):
    for spelling in spellings(owner_email):
        client = from_address("198.51.100.1")
        assert is_signed_in(sign_in(client, spelling, PASSWORD)), spelling
        assert int(client.session["_auth_user_id"]) == owner.user.pk


def test_look_alike_spellings_all_count_against_the_same_account(owner_email, counting):
    client = from_address("198.51.100.1")
    for spelling in spellings(owner_email):
        assert WRONG in sign_in(client, spelling, "wrong password").content.decode()
    assert passwords_checked() == rules.ADDRESS_FAILURE_LIMIT
    for spelling in [owner_email, *spellings(owner_email)]:
        assert is_throttled(sign_in(client, spelling, PASSWORD)), spelling
    assert passwords_checked() == rules.ADDRESS_FAILURE_LIMIT


def test_spellings_that_match_no_account_are_counted_under_one_identity(db):
    client = from_address("198.51.100.1")
    for spelling in spellings("nobody@example.com"):
        assert WRONG in sign_in(client, spelling, "guess").content.decode()
    assert is_throttled(sign_in(client, "nobody@example.com", "guess"))
    assert SignInCount.objects.filter(identity="nobody@example.com").count() == 2  # this address, and anywhere


def test_the_throttled_message_says_when_to_try_again_and_the_window_ends(owner_email):
    client = from_address("198.51.100.1")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(rules.ADDRESS_FAILURE_LIMIT):
            sign_in(client, owner_email, "wrong password")
        clock.shift(60)
        response = sign_in(client, owner_email, PASSWORD)
        assert THROTTLED.search(response.content.decode()).groups() == ("14", "minutes")
        clock.shift(rules.ADDRESS_WINDOW.total_seconds() - 60)
        assert is_signed_in(sign_in(client, owner_email, PASSWORD))


def test_platform_sign_in_is_throttled_and_shares_the_count_with_the_web_sign_in(django_user_model, counting):
    django_user_model.objects.create_superuser("Staff@Example.com", "staff@example.com", PASSWORD)
    client = from_address("198.51.100.1")
    for _ in range(3):
        response = sign_in(client, "Staff@Example.com", "wrong password", url="/platform/login/")
        assert "Please enter the correct" in response.content.decode()
    for _ in range(2):
        sign_in(client, "Staff@Example.com", "wrong password")
    assert passwords_checked() == rules.ADDRESS_FAILURE_LIMIT
    assert is_throttled(sign_in(client, "Staff@Example.com", PASSWORD, url="/platform/login/"))
    assert is_throttled(sign_in(client, "  ＳＴＡＦＦ@example.com", PASSWORD, url="/platform/login/"))
    assert passwords_checked() == rules.ADDRESS_FAILURE_LIMIT
    assert is_signed_in(sign_in(from_address("198.51.100.2"), "Staff@Example.com", PASSWORD, url="/platform/login/"))


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "counted_as"),
    [
        (0, "203.0.113.7", "10.0.0.9"),  # no proxy configured: the header is the client's own words
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "1.2.3.4, 203.0.113.7", "203.0.113.7"),  # the client's forged entry is left of the proxy's
        (1, "garbage\x00, ;; not an address", "10.0.0.9"),
        (2, "203.0.113.7", "10.0.0.9"),  # shorter than the configured chain: the header is not the proxies'
    ],
)
def test_client_address_comes_from_x_forwarded_for_only_through_configured_proxies(
    settings, owner_email, proxies, forwarded_for, counted_as
):
    settings.FLEXBILL_TRUSTED_PROXY_COUNT = proxies
    response = sign_in(from_address("10.0.0.9"), owner_email, "wrong password", HTTP_X_FORWARDED_FOR=forwarded_for)
    assert WRONG in response.content.decode()
    per_address = SignInCount.objects.filter(identity=owner_email).exclude(address=SignInCount.ANYWHERE)
    assert list(per_address.values_list("address", "failures")) == [(counted_as, 1)]


def test_forging_x_forwarded_for_does_not_escape_the_limit_without_a_trusted_proxy(owner_email):
    client = from_address("10.0.0.9")
    for n in range(rules.ADDRESS_FAILURE_LIMIT):
        sign_in(client, owner_email, "wrong password", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert is_throttled(sign_in(client, owner_email, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.200"))


def test_rotating_through_the_addresses_of_one_ipv6_64_buys_no_extra_tries(owner_email):
    for n in range(rules.ADDRESS_FAILURE_LIMIT):
        sign_in(from_address(f"2001:db8:7:7::{n + 1:x}"), owner_email, "wrong password")

    assert is_throttled(sign_in(from_address("2001:db8:7:7:ffff::1"), owner_email, PASSWORD))
    assert is_signed_in(sign_in(from_address("2001:db8:7:8::1"), owner_email, PASSWORD))  # the next /64


def test_an_attack_from_one_address_does_not_lock_out_the_owner_at_another(owner_email):
    attacker = from_address("203.0.113.66")
    for _ in range(rules.ADDRESS_FAILURE_LIMIT + 3):
        sign_in(attacker, owner_email, "wrong password")
    assert is_throttled(sign_in(attacker, owner_email, PASSWORD))
    assert is_signed_in(sign_in(from_address("198.51.100.1"), owner_email, PASSWORD))


def test_an_attack_from_many_addresses_slows_the_account_down_but_never_locks_the_owner_out(owner_email):
    home = from_address("198.51.100.1")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert is_signed_in(sign_in(home, owner_email, PASSWORD))  # the owner's usual address
        for n in range(rules.ACCOUNT_FREE_FAILURES + 4):
            clock.shift(rules.account_delay(n).total_seconds())  # each attacker waits out the delay
            response = sign_in(from_address(f"203.0.113.{n}"), owner_email, "wrong password")
            assert WRONG in response.content.decode(), n
        # Past the free failures, each new address waits for the delay since the latest failure.
        assert is_throttled(sign_in(from_address("203.0.113.200"), owner_email, "wrong password"))
        # A new address of the owner's waits the same delay, then signs in: slowed down, not locked out.
        traveller = from_address("192.0.2.50")
        response = sign_in(traveller, owner_email, PASSWORD)
        assert is_throttled(response)
        clock.shift(rules.ACCOUNT_MAX_DELAY.total_seconds())
        assert is_signed_in(sign_in(traveller, owner_email, PASSWORD))
        # The owner's usual address skips the account-wide delay altogether.
        assert is_signed_in(sign_in(from_address("198.51.100.1"), owner_email, PASSWORD))


def test_the_account_wide_delay_grows_with_each_failure_and_is_capped(owner_email):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        waits = []
        for n in range(rules.ACCOUNT_FREE_FAILURES + 12):
            address = f"203.0.113.{n}"
            response = sign_in(from_address(address), owner_email, "wrong password")
            if is_throttled(response):
                row = SignInCount.objects.get(identity=owner_email, address=SignInCount.ANYWHERE)
                waits.append(row.next_allowed_at - timezone.now())
                clock.move_to(row.next_allowed_at)
                assert WRONG in sign_in(from_address(address), owner_email, "wrong password").content.decode()
    assert waits == sorted(waits) and len(waits) >= 10
    assert waits[0] == rules.account_delay(rules.ACCOUNT_FREE_FAILURES) and waits[-1] == rules.ACCOUNT_MAX_DELAY


def test_a_successful_sign_in_clears_that_addresss_count_only(owner_email):
    here, there = from_address("198.51.100.1"), from_address("198.51.100.2")
    for _ in range(rules.ADDRESS_FAILURE_LIMIT - 1):
        sign_in(here, owner_email, "wrong password")
        sign_in(there, owner_email, "wrong password")
    assert is_signed_in(sign_in(here, owner_email, PASSWORD))
    here.logout()
    for _ in range(rules.ADDRESS_FAILURE_LIMIT):
        assert WRONG in sign_in(here, owner_email, "wrong password").content.decode()
    assert WRONG in sign_in(there, owner_email, "wrong password").content.decode()
    assert is_throttled(sign_in(there, owner_email, PASSWORD))


def test_failed_and_throttled_sign_ins_are_logged_with_identity_and_address(owner_email, caplog):
    client = from_address("198.51.100.1")
    with caplog.at_level(logging.WARNING, logger="flexbill.accounts.sign_in"):
        for _ in range(rules.ADDRESS_FAILURE_LIMIT + 1):
            sign_in(client, owner_email.upper(), "wrong password")
    messages = [r.getMessage() for r in caplog.records if r.name == "flexbill.accounts.sign_in"]
    assert messages.count(f"sign-in failed for {owner_email!r} from 198.51.100.1") == rules.ADDRESS_FAILURE_LIMIT
    assert [m for m in messages if m.startswith(f"sign-in throttled for {owner_email!r} from 198.51.100.1")]
