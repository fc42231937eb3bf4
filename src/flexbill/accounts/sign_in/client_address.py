"""The client address a sign-in (or a password-reset request) is counted under, as the configured proxies report
it: an IPv4 address as it is, an IPv6 address by its /64 network."""

import ipaddress

from django.conf import settings

MAX_ADDRESS_LENGTH = 64
UNKNOWN_ADDRESS = "unknown"
# One subscriber or host is usually given a whole /64 and can use any address in it: counted one by one, its
# addresses would give it 2**64 times the tries.
IPV6_COUNTED_PREFIX = 64


def client_address_from(meta, trusted_proxy_count: int) -> str:
    """REMOTE_ADDR, or with N trusted proxies the N-th address from the right of X-Forwarded-For.

    Only the right-most N entries were written by proxies we run; everything left of them is whatever the client
    sent. A header that is missing, too short or not an address falls back to REMOTE_ADDR: never trust it blindly,
    never fail the request over it.
    """
    remote = str(meta.get("REMOTE_ADDR") or "")[:MAX_ADDRESS_LENGTH] or UNKNOWN_ADDRESS
    if trusted_proxy_count <= 0:
        return remote
    forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")]
    if len(forwarded) < trusted_proxy_count:
        return remote
    try:
        return ipaddress.ip_address(forwarded[-trusted_proxy_count]).compressed
    except ValueError:
        return remote


def counted_address(address: str) -> str:
    """What an address is counted under: an IPv6 address by its /64 network ("2001:db8:1:2::/64"), an IPv6 address
    embedding an IPv4 one ("::ffff:203.0.113.7") as that IPv4 address, anything else as it is."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return parsed.compressed
    if parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped.compressed
    return ipaddress.ip_network(f"{parsed}/{IPV6_COUNTED_PREFIX}", strict=False).compressed


def client_address(request) -> str:
    if request is None:
        return UNKNOWN_ADDRESS
    return counted_address(client_address_from(request.META, settings.FLEXBILL_TRUSTED_PROXY_COUNT))
