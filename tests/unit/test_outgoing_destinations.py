"""Where outgoing webhooks may go: public addresses only, whatever the spelling of the URL's host."""

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flexbill.outgoing import addresses, destinations
from flexbill.outgoing.destinations import AddressRefused, HostNotFound, UrlRefused
from outgoing_urls import INTERNAL_URLS, MALFORMED_URLS, PUBLIC, PUBLIC_URLS

pytestmark = pytest.mark.nostripe


@pytest.mark.parametrize("allow_http", [False, True], ids=["https-only", "dev-http"])
@pytest.mark.parametrize(("url", "what"), INTERNAL_URLS, ids=[w for _, w in INTERNAL_URLS])
def test_every_internal_address_class_and_spelling_is_refused(url, what, allow_http):
    with pytest.raises(AddressRefused) as refused:
        destinations.destination_for(url, allow_http=allow_http)
    assert refused.value.reason == "Address not allowed"
    assert "internal address" in refused.value.detail


@pytest.mark.parametrize(("url", "what"), MALFORMED_URLS, ids=[w for _, w in MALFORMED_URLS])
def test_malformed_urls_are_refused_with_a_sentence(url, what):
    with pytest.raises(UrlRefused) as refused:
        destinations.destination_for(url, allow_http=False)
    assert not isinstance(refused.value, (AddressRefused, HostNotFound))
    assert refused.value.detail.startswith(("url ", "url's "))


@pytest.mark.parametrize("url", [u for u in PUBLIC_URLS if "unresolvable" not in u])
def test_public_addresses_are_allowed_and_resolved_to_what_is_connected_to(url):
    destination = destinations.destination_for(url, allow_http=False)
    assert destination.addresses
    assert all(addresses.refusal(a) is None for a in destination.addresses)


def test_a_name_that_does_not_resolve_is_host_not_found_at_delivery_and_accepted_at_registration():
    with pytest.raises(HostNotFound):
        destinations.destination_for("https://unresolvable.test/hook", allow_http=False)
    destinations.check_new_endpoint_url("https://unresolvable.test/hook", allow_http=False)


def test_the_request_keeps_the_hosts_name_port_path_and_query():
    url = destinations.parse("https://B\u00dcCHER.test.:8443/in/hook?v=1#frag", allow_http=False)
    assert (url.host, url.port, url.target, url.host_header) == (
        "xn--bcher-kva.test",
        8443,
        "/in/hook?v=1",
        "xn--bcher-kva.test:8443",
    )
    assert destinations.parse("https://public.test", allow_http=False).host_header == "public.test"
    non_ascii = destinations.parse("https://public.test/caf\u00e9?q=\u00fc", allow_http=False)
    assert non_ascii.target == "/caf%C3%A9?q=%C3%BC"
    assert destinations.parse("https://[2606:4700::1]:444/", allow_http=False).host_header == "[2606:4700::1]:444"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8421/flexbill", "http://localhost:8421/", "http://loopback.test/", "http://[::1]:9/"],
)
def test_the_development_switch_allows_plain_http_to_loopback(url):
    assert destinations.destination_for(url, allow_http=True).addresses


@pytest.mark.parametrize(
    "url",
    [
        "http://public.test/hook",
        "http://93.184.215.14/",
        "http://10.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://any-internal.test/",
        "http://private.test/",
    ],
)
def test_the_development_switch_allows_plain_http_to_loopback_only(url):
    with pytest.raises(AddressRefused, match="loopback"):
        destinations.destination_for(url, allow_http=True)


def test_https_to_loopback_stays_refused_with_the_development_switch():
    with pytest.raises(AddressRefused):
        destinations.destination_for("https://127.0.0.1:8443/", allow_http=True)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", PUBLIC, "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "100.63.255.255", "100.128.0.0"],
)
def test_public_unicast_addresses_are_allowed(address):
    assert addresses.refusal(ipaddress.ip_address(address)) is None


def test_every_refused_network_is_refused_at_both_ends():
    for network, why in addresses.REFUSED_NETWORKS:
        assert addresses.refusal(network[0]) is not None, why
        assert addresses.refusal(network[-1]) is not None, why


def test_every_metadata_address_is_refused():
    for address in addresses.METADATA_ADDRESSES:
        assert addresses.refusal(address) == "cloud metadata"


numeric_part = st.one_of(
    st.integers(0, 2**32 - 1).map(str),
    st.integers(0, 2**32 - 1).map(hex),
    st.integers(1, 2**32 - 1).map(lambda n: "0" + oct(n)[2:]),
)


@given(st.lists(numeric_part, min_size=1, max_size=4).map(".".join))
def test_numeric_hosts_mean_what_inet_aton_means_or_are_refused(host):
    """Whatever spelling a resolver would read as an address, flexbill reads as the same address."""
    try:
        expected = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        with pytest.raises(addresses.NotAnAddress):
            addresses.literal_address(host)
    else:
        assert addresses.literal_address(host) == expected


@given(st.text(max_size=80))
def test_any_text_is_either_a_destination_or_a_refusal(text):
    try:
        destinations.destination_for(text, allow_http=True)
    except UrlRefused as exc:
        assert exc.detail and exc.reason
