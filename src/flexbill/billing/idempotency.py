"""The Idempotency-Key of requests that move money (a refund, a refund batch): which keys are taken, when a repeat
is the same request, and the answer to a key used for another one (docs/rules.md, rules 13 and 22). Pure."""

import hashlib
import json

from flexbill.errors import Conflict, InvalidInput

MAX_KEY = 255


def idempotency_key_check(key: str | None) -> None:
    """Any text of 1 to MAX_KEY characters, compared exactly: a look-alike in another script is another key."""
    if key is not None and not 1 <= len(key) <= MAX_KEY:
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY} characters.", code="idempotency_key_invalid")


def request_fingerprint(charge_id: int | None, body: dict) -> str:
    """One hash per request meaning: every field as received, so an added, dropped or changed field (its type
    too: 100, 100.0, "100" and true differ) changes it, and only the order of the keys and spacing do not.
    `charge_id`: the charge a refund is asked of (in its path); None for a request naming its charges in its body."""
    payload = json.dumps({"charge": charge_id, "body": body}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def same_request_check(stored_fingerprint: str, fingerprint: str) -> None:
    """A repeated key answers with what the first request made only if it is the same request."""
    if stored_fingerprint != fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with different parameters.", code="idempotency_key_reused"
        )
