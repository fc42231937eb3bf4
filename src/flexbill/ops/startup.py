"""Checks `flexbill serve` and `flexbill worker` make before they start."""

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError

from flexbill.accounts.models import Organization
from flexbill.stripe_gateway.keys import key_mode


def refuse_live_keys_with_local_stripe_workarounds() -> None:
    """The local-Stripe workarounds change what flexbill sends to Stripe: never with an organization's live key."""
    if not settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS:
        return
    try:
        keys = list(Organization.objects.values_list("slug", "stripe_secret_key"))
    except DatabaseError:  # not migrated yet: no organization holds a key
        return
    live = sorted(slug for slug, key in keys if key_mode(key) == "live")
    if live:
        raise CommandError(
            f"FLEXBILL_LOCAL_STRIPE_WORKAROUNDS is on, and {', '.join(live)} {'has' if len(live) == 1 else 'have'} a "
            "live Stripe key. The workarounds are for the local Stripe of the demo and the tests: unset "
            "FLEXBILL_LOCAL_STRIPE_WORKAROUNDS to run with live keys."
        )
