"""Sign-in rules: the identity typed e-mails resolve to, the client address behind proxies, the account backoff."""

import ipaddress
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexbill.accounts.sign_in import rules
from flexbill.accounts.sign_in.client_address import client_address_from, counted_address
from flexbill.accounts.sign_in.identity import sign_in_identity

pytestmark = pytest.mark.nostripe


@pytest.mark.parametrize(
    "typed",
    [
        "owner@example.com",
        "OWNER@EXAMPLE.COM",
        "Owner@Example.Com",
        "  owner@example.com\t",
        "\u3000owner@example.com\u00a0",  # ideographic and no-break spaces
        "ｏｗｎｅｒ＠ｅｘａｍｐｌｅ．ｃｏｍ",  # full-width forms
        "ＯＷＮＥＲ@example.com",
        "Ｏｗｎｅｒ＠ＥＸＡＭＰＬＥ．ＣＯＭ",
        "ｏwner@ｅxample.com ",
    ],
)
def test_look_alike_spellings_of_an_email_resolve_to_one_identity(typed):
    assert sign_in_identity(typed) == "owner@example.com"


@given(st.text(max_size=300))
def test_the_identity_of_an_identity_is_itself(typed):
    identity = sign_in_identity(typed)
    assert sign_in_identity(identity) == identity
    assert len(identity) <= 254


@pytest.mark.parametrize(
    ("meta", "proxies", "expected"),
    [
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, 0, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, 1, "203.0.113.9"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.9"}, 1, "203.0.113.9"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.9, 10.0.0.2"}, 2, "203.0.113.9"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, 2, "10.0.0.1"),  # too short
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "not-an-address"}, 1, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": ""}, 1, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": ",,,"}, 1, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1"}, 1, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "2001:DB8:0:0::1"}, 1, "2001:db8::1"),
        ({}, 0, "unknown"),
    ],
)
def test_client_address_trusts_x_forwarded_for_only_as_far_as_configured_proxies(meta, proxies, expected):
    assert client_address_from(meta, proxies) == expected


@given(header=st.text(max_size=200), remote=st.sampled_from(["10.0.0.1", "::1"]), proxies=st.integers(0, 4))
def test_client_address_of_any_header_is_an_address_or_remote_addr(header, remote, proxies):
    address = client_address_from({"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": header}, proxies)
    assert address == remote or ipaddress.ip_address(address)


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:1", "2001:db8:1:2::/64"),  # any address of one /64 counts as the /64
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),  # every spelling of it too
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64 is someone else
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 address written as IPv6 is that IPv4 address
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_64_network_and_an_ipv4_one_by_its_address(address, counted_as):
    assert counted_address(address) == counted_as


def test_account_delay_is_free_at_first_then_doubles_up_to_the_cap():
    delays = [rules.account_delay(n) for n in range(0, 60)]
    assert all(d == timedelta(0) for d in delays[: rules.ACCOUNT_FREE_FAILURES])
    growing = delays[rules.ACCOUNT_FREE_FAILURES :]
    assert growing[0] == timedelta(seconds=1) and growing[1] == timedelta(seconds=2)
    assert growing == sorted(growing)
    assert max(growing) == rules.ACCOUNT_MAX_DELAY
    assert rules.account_delay(10**9) == rules.ACCOUNT_MAX_DELAY


@pytest.mark.parametrize(
    ("wait", "sentence"),
    [
        (timedelta(minutes=14, seconds=58), "Too many failed sign-in attempts. Try again in 15 minutes."),
        (timedelta(seconds=61), "Too many failed sign-in attempts. Try again in 2 minutes."),
        (timedelta(seconds=60), "Too many failed sign-in attempts. Try again in 1 minute."),
        (timedelta(seconds=42), "Too many failed sign-in attempts. Try again in 42 seconds."),
        (timedelta(seconds=0.2), "Too many failed sign-in attempts. Try again in 1 second."),
    ],
)
def test_the_throttled_sentence_says_when_to_try_again(wait, sentence):
    assert rules.throttled_message(wait) == sentence
