"""What an organization's preferences may hold. Pure decisions: no ORM, no I/O."""

import re
import unicodedata

from babel import Locale, UnknownLocaleError

from flexbill.currencies import normalize_currency
from flexbill.errors import InvalidInput

from .permissions import Role

MAX_NAME = 200
MAX_LOCALE = 20
# language, optional script, optional territory: "de_DE", "zh_Hant_TW", "es_419". babel also reads "und", "root",
# "de_DE@euro" and "de_DE.UTF-8", and maps some of them to another locale silently; those are refused.
LOCALE_SHAPE = re.compile(r"[a-z]{2,3}(?:_[A-Z][a-z]{3})?(?:_(?:[A-Z]{2}|[0-9]{3}))?")
# Offered in the form; any other locale babel knows may be typed.
COMMON_LOCALES = (
    "en_US", "en_GB", "en_IE", "en_AU", "en_CA", "en_IN", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CH", "es_ES",
    "it_IT", "nl_NL", "pt_PT", "pt_BR", "sv_SE", "da_DK", "pl_PL", "ja_JP",
)  # fmt: skip


def known_locale(value: object) -> str:
    """The babel locale id staff type and read money in ("de-de" -> "de_DE"); InvalidInput otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    message = f"Unknown locale {text[:40]!r}: use a locale id such as en_US, de_DE or fr_FR."
    if not text or len(text) > MAX_LOCALE:
        raise InvalidInput(message, code="locale_invalid")
    try:
        parsed = str(Locale.parse(text.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise InvalidInput(message, code="locale_invalid") from exc
    if not LOCALE_SHAPE.fullmatch(parsed) or parsed.lower() != text.replace("-", "_").lower():
        raise InvalidInput(message, code="locale_invalid")
    return parsed


def known_currency(value: object) -> str:
    """A currency Stripe charges, lower-case ("EUR" -> "eur"); InvalidInput otherwise."""
    code = normalize_currency(value)
    if code is None:
        shown = value[:10] if isinstance(value, str) else value
        raise InvalidInput(
            f"{shown!r} is not a currency Stripe charges: use an ISO 4217 code such as usd, eur or gbp.",
            code="currency_invalid",
        )
    return code


def organization_name(value: object) -> str:
    """A name shown in the UI and as the sender of refund e-mails: one line, 1 to 200 characters."""
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise InvalidInput("The organization needs a name.", code="name_invalid")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"The name is too long ({len(name)} characters; at most {MAX_NAME}).", code="name_invalid")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") for ch in name):
        raise InvalidInput(
            "The name must be one line of visible text (no line breaks or control characters).", code="name_invalid"
        )
    return name


def may_change_stripe_connection(role: str) -> bool:
    """Only owners enter or replace the Stripe secret key and signing secret: whoever holds the secret key can move
    the organization's money in Stripe."""
    return role == Role.OWNER
