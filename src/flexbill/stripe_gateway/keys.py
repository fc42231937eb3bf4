"""What flexbill reads from a Stripe key or signing secret without asking Stripe. Pure: no I/O."""

import re

# Stripe's keys are "sk_test_" or "rk_live_" and letters and digits; signing secrets are "whsec_" and a token
# (base64 from the dashboard, hex from the Stripe CLI). Both must fit the 255 characters flexbill stores.
MAX_SECRET = 255
SECRET_KEY_SHAPE = re.compile(r"(?P<kind>sk|rk)_(?P<mode>test|live)_[0-9A-Za-z]{8,247}")
WEBHOOK_SECRET_SHAPE = re.compile(r"whsec_[0-9A-Za-z_+/=-]{8,249}")


def key_mode(secret_key: str) -> str | None:
    """ "test" or "live" from a secret (sk_) or restricted (rk_) key's prefix; None for anything else."""
    match = SECRET_KEY_SHAPE.fullmatch(secret_key or "")
    return match["mode"] if match else None


def is_webhook_secret(value: str) -> bool:
    return bool(WEBHOOK_SECRET_SHAPE.fullmatch(value or ""))


def last4(secret: str) -> str:
    """The most of a secret flexbill ever shows: its last four characters, and only of a secret long enough that
    four characters say nothing useful about the rest."""
    return secret[-4:] if len(secret) >= 16 else ""
