"""The one-time link of an invitation: signed with the secret key, expiring, and single use.

The link carries the membership's id and a random nonce, signed (django.core.signing) with a timestamp. Only the
nonce's SHA-256 is stored on the membership: inviting again stores a new one (the previous link stops working) and
accepting clears it (the link cannot be used twice)."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core import signing

SALT = "flexbill.accounts.invitation"
MAX_TOKEN_LENGTH = 400


class LinkRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


EXPIRED = "This invitation link has expired. Ask the person who invited you to send a new one."
NOT_VALID = (
    "This invitation link is not valid: it was already used, or a newer invitation replaced it. "
    "Sign in if you accepted it, or ask for a new one."
)


def invitation_days() -> int:
    return settings.FLEXBILL_INVITATION_DAYS


def new_nonce() -> tuple[str, str]:
    """-> (nonce for the link, digest to store)."""
    nonce = secrets.token_urlsafe(24)
    return nonce, nonce_digest(nonce)


def nonce_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def link_token(*, membership_id: int, nonce: str) -> str:
    return signing.dumps({"m": membership_id, "n": nonce}, salt=SALT, compress=False)


def read_link_token(token: str) -> tuple[int, str]:
    """-> (membership id, nonce); LinkRefused when it was not signed by flexbill or is older than the setting."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkRefused(NOT_VALID)
    try:
        data = signing.loads(token, salt=SALT, max_age=invitation_days() * 86400)
    except signing.SignatureExpired as exc:
        raise LinkRefused(EXPIRED) from exc
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise LinkRefused(NOT_VALID) from exc
    if not isinstance(data, dict) or not isinstance(data.get("m"), int) or not isinstance(data.get("n"), str):
        raise LinkRefused(NOT_VALID)
    return data["m"], data["n"]


def nonce_matches(nonce: str, stored_digest: str) -> bool:
    return bool(stored_digest) and hmac.compare_digest(nonce_digest(nonce), stored_digest)
