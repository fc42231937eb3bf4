"""Pure sign-in throttling rules: limits, the account-wide backoff and the sentence people read."""

import math
from datetime import timedelta

# From one client address against one account: this many failures, then nothing until the window ends.
ADDRESS_FAILURE_LIMIT = 5
ADDRESS_WINDOW = timedelta(minutes=15)
# Against one account from anywhere: this many failures are free, then each attempt waits longer (doubling from
# one second up to the cap). A delay, never a lock: the owner can always sign in once it has passed.
ACCOUNT_FREE_FAILURES = 10
ACCOUNT_MAX_DELAY = timedelta(minutes=5)
# An account's count starts again after this long without a failure.
ACCOUNT_QUIET_RESET = timedelta(hours=1)
# An address that signed in to the account this recently skips the account-wide backoff (its own limit still holds),
# so an attack from elsewhere does not slow the owner down where they usually sign in.
KNOWN_ADDRESS_FOR = timedelta(days=30)


def account_delay(failures: int) -> timedelta:
    """How long after its latest failure an account accepts the next attempt."""
    if failures < ACCOUNT_FREE_FAILURES:
        return timedelta(0)
    exponent = min(failures - ACCOUNT_FREE_FAILURES, 20)  # 2**20 s is far past the cap already
    return min(timedelta(seconds=2**exponent), ACCOUNT_MAX_DELAY)


def wait_phrase(wait: timedelta) -> str:
    """How long to wait, as people read it: whole seconds under a minute, else whole minutes, rounded up."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def throttled_message(wait: timedelta) -> str:
    return f"Too many failed sign-in attempts. Try again in {wait_phrase(wait)}."
