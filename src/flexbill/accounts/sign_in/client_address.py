"""The client address a sign-in is counted under, as the configured proxies report it."""

import ipaddress

from django.conf import settings

MAX_ADDRESS_LENGTH = 64
UNKNOWN_ADDRESS = "unknown"


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


def client_address(request) -> str:
    if request is None:
        return UNKNOWN_ADDRESS
    return client_address_from(request.META, settings.FLEXBILL_TRUSTED_PROXY_COUNT)
