"""Which network addresses flexbill may send an integrator's webhook to: public unicast ones only.

An endpoint URL is typed by someone outside the operator's network, and flexbill's worker sits inside it. Any
address that leads back inside — loopback, private and link-local ranges, cloud metadata services, and IPv6 forms
that carry an IPv4 address within them — is refused, so an endpoint cannot be used to probe or call internal
services. The table below is explicit (IANA's special-purpose registries) rather than trusting `is_global` alone,
which counts multicast and NAT64 as global.
"""

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# (network, why) — the reason is for tests and logs; integrators only ever see "Address not allowed".
REFUSED_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.31.196.0/24", "AS112"),
        ("192.52.193.0/24", "AMT"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("192.175.48.0/24", "AS112"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("255.255.255.255/32", "broadcast"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::ffff:0:0:0/96", "IPv4-translated"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001::/32", "Teredo"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)

# Metadata services that answer on otherwise public-looking or easily-missed addresses.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean…
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure wire server (a public address that only answers from inside Azure)
    )
)

_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")

# The WHATWG URL rule: a host whose last label is a number is an IPv4 address in one of inet_aton's spellings
# (2130706433, 0x7f000001, 0177.0.0.1, 127.1), never a name to look up.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class NotAnAddress(ValueError):
    """The host looks like an IP address but is not a valid one (e.g. 1.2.3.999)."""


def refusal(address: IPAddress) -> str | None:
    """Why flexbill does not send to this address, or None when it may."""
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return "scoped (link-local)"
    for network, why in REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return why
    if not address.is_global:  # whatever this Python's registry knows that the table above does not
        return "not globally routable"
    return None


def is_loopback(address: IPAddress) -> bool:
    """Plain loopback only: ::ffff:127.0.0.1 and friends are not, so they cannot slip through the dev switch."""
    if isinstance(address, ipaddress.IPv4Address):
        return address in _LOOPBACK_V4
    return address == _LOOPBACK_V6


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host spells directly, in any spelling, or None when the host is a name.

    `host` is already lower-case ASCII (IDNA applied, one trailing dot removed); IPv6 comes without brackets.
    """
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise NotAnAddress(host) from exc
    if not _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        return None
    if not all(_NUMERIC_LABEL.match(label) for label in host.split(".")) or host.count(".") > 3:
        raise NotAnAddress(host)
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError as exc:
        raise NotAnAddress(host) from exc


def lookup(host: str) -> list[IPAddress]:
    """Every address a name resolves to, in the resolver's order. The one place DNS is asked (tests replace it)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    seen: dict[IPAddress, None] = {}
    for info in infos:
        seen.setdefault(ipaddress.ip_address(info[4][0]), None)
    return list(seen)
