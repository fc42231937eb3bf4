"""Money at the edge: minor units <-> what people read and type, in their organization's locale.

One parser reads every amount typed in the UI. It is deliberately stricter than babel's parse_decimal, which accepts
any Unicode digit ("١٢" is 12), signs, exponents, "NaN", underscores and spaces: a misread amount moves wrong money.
babel supplies only the locale's symbols and grouping; the grammar below is flexbill's own:

- ASCII digits 0-9 only;
- the locale's decimal symbol at most once, followed by no more decimals than the currency has (never rounded);
- the locale's group separator only between whole groups ("1,234.50", "12,34,567.50" in en_IN), or none at all;
- nothing else: no sign, exponent, currency symbol, letters, leading or trailing separators.

A grouped amount with no decimals is read by the locale's rules ("1.234" is 1234 in de_DE, "1,234" is 1234 in
en_US); where that reading needs more decimals than the currency has ("1.234" EUR in en_US) it is refused with the
other reading suggested, and the refund dialog always shows the amount as understood before it is sent.
"""

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, parse_pattern

from flexbill.billing.rules import MAX_AMOUNT

DEFAULT_LOCALE = "en_US"
MAX_INPUT_LENGTH = 30
SPACE_GROUPS = "\u202f\u00a0 "  # fr_FR groups with U+202F; people also type NBSP or a plain space
APOSTROPHE_GROUPS = "'\u2019"  # de_CH groups with an apostrophe, typed straight or curly


# The locale amounts are shown in while one request is answered: its organization's (web/access.py member_view sets
# it), so that every amount a page shows, through the `money` filter in any template or partial, is written the way
# staff type it. Outside a member's request (e-mails, the CLI) amounts are written in en_US.
_display_locale: ContextVar[str] = ContextVar("flexbill_money_display_locale", default=DEFAULT_LOCALE)


@contextmanager
def money_display_locale(locale: str | None) -> Iterator[None]:
    token = _display_locale.set(locale_id(locale))
    try:
        yield
    finally:
        _display_locale.reset(token)


def display_locale() -> str:
    return _display_locale.get()


class AmountError(ValueError):
    """The text typed is not an amount of money in this currency; the message says what to type instead."""


@dataclass(frozen=True)
class NumberStyle:
    """How one locale writes amounts: "1,234.50" (en_US), "1.234,50" (de_DE), "12,34,567.50" (en_IN)."""

    locale: str
    decimal: str
    group: str  # the separator flexbill writes
    group_accepted: str  # the separators read as that one
    primary: int  # digits in the last group
    secondary: int  # digits in the groups before it


def locale_id(locale: str | None) -> str:
    """A babel locale id ("de_DE"); unknown or empty ids are read as en_US."""
    try:
        return str(Locale.parse((locale or DEFAULT_LOCALE).replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT_LOCALE


@lru_cache(maxsize=64)
def number_style(locale: str | None) -> NumberStyle:
    parsed = Locale.parse(locale_id(locale))
    symbols = parsed.number_symbols.get("latn", {})  # ASCII digits, whatever the locale's own digits are
    decimal, group = symbols.get("decimal", "."), symbols.get("group", ",")
    accepted = group
    if group in SPACE_GROUPS:
        accepted = SPACE_GROUPS
    elif group in APOSTROPHE_GROUPS:
        accepted = APOSTROPHE_GROUPS
    primary, secondary = parse_pattern(parsed.decimal_formats[None]).grouping
    return NumberStyle(str(parsed), decimal, group, accepted, primary, secondary)


# The common conventions other than a locale's own, used only to suggest what was probably meant.
DOT_DECIMAL = NumberStyle("", ".", ",", ",", 3, 3)
COMMA_DECIMAL = NumberStyle("", ",", ".", ".", 3, 3)


def currency_digits(currency: str) -> int:
    return get_currency_precision(currency.upper())


def format_money(amount: int, currency: str, locale: str | None = DEFAULT_LOCALE) -> str:
    """12345, "usd" -> "$123.45"; 1250, "eur", "de_DE" -> "12,50 €".

    babel places the currency sign; the digits are to_major's, the very text the parser reads back, because babel
    loses apostrophe group separators from a million up ("1000000'000" in de_CH).
    """
    locale = locale_id(locale)
    value = Decimal(amount).scaleb(-currency_digits(currency))
    shown = format_currency(value, currency.upper(), locale=locale, group_separator=False)
    number = to_major(amount, currency, locale)
    return shown.replace(number.replace(number_style(locale).group, ""), number, 1)


def to_major(amount: int, currency: str, locale: str | None = DEFAULT_LOCALE) -> str:
    """123450, "eur", "de_DE" -> "1.234,50": the text a form field is prefilled with; parse_major reads it back."""
    style, digits = number_style(locale), currency_digits(currency)
    whole, fraction = divmod(amount, 10**digits)
    text = _grouped(str(whole), style)
    return f"{text}{style.decimal}{fraction:0{digits}d}" if digits else text


def _grouped(digits: str, style: NumberStyle) -> str:
    groups, rest = [digits[-style.primary :]], digits[: -style.primary]
    while rest:
        groups.insert(0, rest[-style.secondary :])
        rest = rest[: -style.secondary]
    return style.group.join(groups)


def parse_major(text: str, currency: str, locale: str | None = DEFAULT_LOCALE) -> int:
    """ "1.234,50", "eur", "de_DE" -> 123450. Refuses, with a message saying what to type, whatever is not exactly
    one amount in this locale and currency."""
    style, digits = number_style(locale), currency_digits(currency)
    typed = (text or "").strip()
    example = to_major(123450 * 10**digits // 100, currency, locale)
    if not typed:
        raise AmountError("Enter an amount.")
    if len(typed) > MAX_INPUT_LENGTH:
        raise AmountError(f"Enter an amount like {example}.")
    if any(not ch.isascii() and (ch.isdigit() or ch.isnumeric()) for ch in typed):
        raise AmountError(f"{typed} has digits other than 0-9: type the amount with the digits 0-9, like {example}.")
    read = _read(typed, style)
    if read is None:
        raise AmountError(_not_an_amount(typed, currency, style, example))
    whole, fraction = read
    if len(fraction) > digits:
        raise AmountError(_too_many_decimals(typed, currency, style, digits, example))
    minor = _minor(whole, fraction, digits)
    if minor <= 0:
        raise AmountError("Enter an amount greater than zero.")
    if minor > MAX_AMOUNT:
        raise AmountError(f"{format_money(minor, currency, locale)} is more than any invoice here; check the amount.")
    return minor


@lru_cache(maxsize=64)
def _grammar(style: NumberStyle) -> re.Pattern:
    group = f"[{re.escape(style.group_accepted)}]"
    first = f"[1-9][0-9]{{0,{style.secondary - 1}}}"
    grouped = f"{first}(?:{group}[0-9]{{{style.secondary}}})*{group}[0-9]{{{style.primary}}}"
    return re.compile(f"(?P<whole>0|[1-9][0-9]*|{grouped})(?:{re.escape(style.decimal)}(?P<fraction>[0-9]+))?")


def _read(text: str, style: NumberStyle) -> tuple[str, str] | None:
    """("1234", "5") for "1,234.5" in en_US; None when the text breaks the locale's grammar."""
    match = _grammar(style).fullmatch(text)
    if match is None:
        return None
    return re.sub("[^0-9]", "", match["whole"]), match["fraction"] or ""


def _minor(whole: str, fraction: str, digits: int) -> int:
    return int(whole) * 10**digits + int(fraction.ljust(digits, "0") or 0)


def _other_reading(text: str, currency: str, style: NumberStyle) -> int | None:
    """What the text means in the other common convention ("12,50" read as twelve-fifty in en_US), if valid."""
    other = DOT_DECIMAL if style.decimal == "," else COMMA_DECIMAL
    read = _read(text, other)
    digits = currency_digits(currency)
    if read is None or len(read[1]) > digits:
        return None
    minor = _minor(*read, digits)
    return minor if 0 < minor <= MAX_AMOUNT else None


def _not_an_amount(text: str, currency: str, style: NumberStyle, example: str) -> str:
    meant = _other_reading(text, currency, style)
    if meant is not None:
        meant_money, meant_text = format_money(meant, currency, style.locale), to_major(meant, currency, style.locale)
        return f"{text} is not an amount here: type {meant_text} for {meant_money}."
    shown = "".join(_visible(ch) for ch in text)
    plain = example.replace(style.group, "")
    return f"{shown} is not an amount: type it like {example} or {plain}, with no sign or other characters."


def _too_many_decimals(text: str, currency: str, style: NumberStyle, digits: int, example: str) -> str:
    allowed = "none" if digits == 0 else f"at most {digits}"
    message = f"{text} has too many decimals for {currency.upper()} ({allowed}; money is never rounded)."
    meant = _other_reading(text, currency, style)
    if meant is None:
        return f"{message} Type it like {example}."
    meant_text, meant_money = to_major(meant, currency, style.locale), format_money(meant, currency, style.locale)
    return f"{message} Type it like {example}, or {meant_text} for {meant_money}."


def _visible(ch: str) -> str:
    """Invisible or look-alike characters are named, so the message shows what was really typed."""
    if ch.isprintable() and not ch.isspace() or ch == " ":
        return ch
    return f"[{unicodedata.name(ch, hex(ord(ch)))}]"
