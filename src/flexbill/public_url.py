"""Absolute addresses flexbill shows people to paste elsewhere (the Stripe webhook URL)."""

from django.conf import settings


def absolute_url(request, path: str) -> str:
    """FLEXBILL_PUBLIC_URL + path when set (behind proxies that rewrite the host or scheme); otherwise built from the
    request, whose Host Django has already checked against FLEXBILL_ALLOWED_HOSTS."""
    base = settings.FLEXBILL_PUBLIC_URL
    return f"{base}{path}" if base else request.build_absolute_uri(path)
