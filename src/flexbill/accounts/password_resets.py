"""How often "Forgot your password?" sends its e-mail: anyone can ask, so nobody can make flexbill flood a mailbox
or send mail without end.

- From one client address: ADDRESS_LIMIT requests per ADDRESS_WINDOW, whatever address they name; past that the
  form says how long to wait. This says nothing about any account.
- To one account (the typed e-mail's sign-in identity, so every spelling counts as one): ACCOUNT_LIMIT e-mails per
  ACCOUNT_WINDOW. Past that nothing is sent, and the answer is the one every request gets ("if the address has an
  account, a link is on its way"), so it does not tell whether the account exists."""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError

from .action_limits import action_reserve
from .sign_in.rules import wait_phrase

log = logging.getLogger("flexbill.accounts.password_resets")

ADDRESS_LIMIT = 10
ADDRESS_WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 3
ACCOUNT_WINDOW = timedelta(hours=1)


class PasswordResetThrottled(ValidationError):
    def __init__(self, wait: timedelta):
        message = f"Too many password-reset requests from here. Try again in {wait_phrase(wait)}."
        super().__init__(message, code="throttled")


def password_reset_reserve(*, identity: str, address: str, now: datetime) -> bool:
    """Count one request; True to send the e-mail, False to send nothing this time (the account had its share).
    Raises PasswordResetThrottled when this client address asked too often."""
    allowed_at = action_reserve(
        key=f"password-reset:from:{address}", limit=ADDRESS_LIMIT, window=ADDRESS_WINDOW, now=now
    )
    if allowed_at is not None:
        log.warning("password reset throttled from %s", address)
        raise PasswordResetThrottled(allowed_at - now)
    allowed_at = action_reserve(
        key=f"password-reset:to:{identity}", limit=ACCOUNT_LIMIT, window=ACCOUNT_WINDOW, now=now
    )
    if allowed_at is not None:
        log.warning(
            "password reset for %r not sent: %d e-mails within %s already", identity, ACCOUNT_LIMIT, ACCOUNT_WINDOW
        )
        return False
    return True
