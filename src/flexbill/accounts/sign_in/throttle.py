"""Sign-in throttling: reserve an attempt before the password is checked, give it back when it succeeds.

Two counts per attempt, both rows of SignInCount changed by single conditional UPDATEs (atomic on SQLite and
PostgreSQL alike, across processes):
- the identity from this client address: at most ADDRESS_FAILURE_LIMIT per window, then refused until it ends;
- the identity from anywhere: free up to ACCOUNT_FREE_FAILURES, then an increasing delay between attempts
  (skipped by addresses that recently signed in to it), so a distributed attack slows down without locking out
  the owner.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Case, F, Q, Value, When

from ..models import SignInCount
from . import rules

log = logging.getLogger("flexbill.accounts.sign_in")

# Compare-and-set retries on the account-wide row before giving up on this attempt (refused, try in a second).
_ACCOUNT_CAS_TRIES = 50


class SignInThrottled(ValidationError):
    """A sign-in refused before its password was checked. A ValidationError so both sign-in forms show it."""

    def __init__(self, wait: timedelta):
        self.wait = wait
        super().__init__(rules.throttled_message(wait), code="throttled")


@dataclass(frozen=True)
class Attempt:
    identity: str
    address: str
    counted_for_account: bool


def sign_in_attempt_begin(*, identity: str, address: str, now: datetime) -> Attempt:
    """Count one attempt, or raise SignInThrottled saying how long to wait. Call before checking the password."""
    try:
        return _begin(identity, address, now)
    except SignInCount.DoesNotExist:  # pruned between creating and counting (idle rows only): count afresh
        return _begin(identity, address, now)


def sign_in_counts_prune(*, now: datetime) -> int:
    """Delete counts that no longer decide anything: no failure for longer than any window, no wait pending, no
    recent success. Anyone can make rows by trying e-mails; this keeps them to about an hour's worth."""
    stale = now - max(rules.ADDRESS_WINDOW, rules.ACCOUNT_QUIET_RESET)
    deleted, _ = (
        SignInCount.objects.filter(Q(last_failure_at__isnull=True) | Q(last_failure_at__lt=stale))
        .filter(next_allowed_at__lte=now, window_started_at__lt=stale)
        .filter(Q(last_success_at__isnull=True) | Q(last_success_at__lt=now - rules.KNOWN_ADDRESS_FOR))
        .delete()
    )
    return deleted


def _begin(identity: str, address: str, now: datetime) -> Attempt:
    _ensure_rows(identity, address, now)
    refused_until = _address_reserve(identity, address, now)
    if refused_until is not None:
        _refused(identity, address, refused_until - now, "this address")
    if _known_address(identity, address, now):
        return Attempt(identity, address, counted_for_account=False)
    refused_until = _account_reserve(identity, now)
    if refused_until is not None:
        _give_back(identity, address)  # nothing was tried from here: this address keeps its tries
        _refused(identity, address, refused_until - now, "the account")
    return Attempt(identity, address, counted_for_account=True)


def sign_in_attempt_failed(attempt: Attempt) -> None:
    """The password was wrong (or no such account): the reserved counts stay."""
    log.warning("sign-in failed for %r from %s", attempt.identity, attempt.address)


def sign_in_attempt_succeeded(attempt: Attempt, *, now: datetime) -> None:
    """Clear this address's count and remember it as known; give back the account-wide count it reserved."""
    SignInCount.objects.filter(identity=attempt.identity, address=attempt.address).update(
        failures=0, last_success_at=now
    )
    if attempt.counted_for_account:
        _give_back(attempt.identity, SignInCount.ANYWHERE)


def _ensure_rows(identity: str, address: str, now: datetime) -> None:
    start = now - rules.ACCOUNT_QUIET_RESET - rules.ADDRESS_WINDOW  # a new row starts with an expired window
    SignInCount.objects.bulk_create(
        [
            SignInCount(identity=identity, address=address, window_started_at=start, next_allowed_at=start),
            SignInCount(
                identity=identity, address=SignInCount.ANYWHERE, window_started_at=start, next_allowed_at=start
            ),
        ],
        ignore_conflicts=True,
    )


def _address_reserve(identity: str, address: str, now: datetime) -> datetime | None:
    """One UPDATE: start a new window if the last one ended, else count one more if under the limit."""
    expired = Q(window_started_at__lte=now - rules.ADDRESS_WINDOW)
    updated = (
        SignInCount.objects.filter(identity=identity, address=address)
        .filter(expired | Q(failures__lt=rules.ADDRESS_FAILURE_LIMIT))
        .update(
            failures=Case(When(expired, then=Value(1)), default=F("failures") + 1),
            window_started_at=Case(When(expired, then=Value(now)), default=F("window_started_at")),
            last_failure_at=now,
        )
    )
    if updated:
        return None
    started = SignInCount.objects.values_list("window_started_at", flat=True).get(identity=identity, address=address)
    return started + rules.ADDRESS_WINDOW


def _known_address(identity: str, address: str, now: datetime) -> bool:
    return SignInCount.objects.filter(
        identity=identity, address=address, last_success_at__gte=now - rules.KNOWN_ADDRESS_FOR
    ).exists()


def _account_reserve(identity: str, now: datetime) -> datetime | None:
    """Compare-and-set: the delay depends on the new count, which one UPDATE cannot compute portably."""
    rows = SignInCount.objects.filter(identity=identity, address=SignInCount.ANYWHERE)
    for _ in range(_ACCOUNT_CAS_TRIES):
        seen = rows.values("failures", "last_failure_at", "next_allowed_at").get()
        if seen["next_allowed_at"] > now:
            return seen["next_allowed_at"]
        quiet = seen["last_failure_at"] is None or seen["last_failure_at"] < now - rules.ACCOUNT_QUIET_RESET
        failures = 1 if quiet else seen["failures"] + 1
        delay = rules.account_delay(failures)
        # No delay leaves next_allowed_at in the past: a request that read the clock a moment before this one
        # must not be refused for a wait of a few milliseconds.
        next_allowed_at = now + delay if delay else seen["next_allowed_at"]
        if rows.filter(failures=seen["failures"], next_allowed_at=seen["next_allowed_at"]).update(
            failures=failures, last_failure_at=now, next_allowed_at=next_allowed_at
        ):
            return None
    return now + timedelta(seconds=1)


def _give_back(identity: str, address: str) -> None:
    SignInCount.objects.filter(identity=identity, address=address, failures__gt=0).update(failures=F("failures") - 1)


def _refused(identity: str, address: str, wait: timedelta, limited_by: str) -> None:
    error = SignInThrottled(wait)
    log.warning(
        "sign-in throttled for %r from %s (limit reached for %s; try again in %ds)",
        identity,
        address,
        limited_by,
        error.wait.total_seconds(),
    )
    raise error
