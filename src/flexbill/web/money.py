"""Money at the edge: minor units <-> what people read and type. Exact Decimal arithmetic, never floats."""

import re
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision

MAX_INPUT_LENGTH = 20
_AMOUNT = re.compile(r"\d+(\.\d+)?")


class AmountError(ValueError):
    """The text typed is not an amount of money in this currency; the message says what to type instead."""


def currency_digits(currency: str) -> int:
    return get_currency_precision(currency.upper())


def format_money(amount: int, currency: str) -> str:
    """12345, "usd" -> "$123.45"."""
    return format_currency(Decimal(amount).scaleb(-currency_digits(currency)), currency.upper(), locale="en_US")


def to_major(amount: int, currency: str) -> str:
    """12345, "usd" -> "123.45": the text a form field is prefilled with."""
    digits = currency_digits(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def parse_major(text: str, currency: str) -> int:
    """ "123.45", "usd" -> 12345. Refuses more decimals than the currency has, rather than rounding money."""
    digits = currency_digits(currency)
    example = to_major(1250 * 10**digits // 100, currency)
    cleaned = (text or "").strip().replace(",", "")
    if not cleaned:
        raise AmountError("Enter an amount.")
    if len(cleaned) > MAX_INPUT_LENGTH or not _AMOUNT.fullmatch(cleaned):
        raise AmountError(f"Enter an amount like {example}.")
    value = Decimal(cleaned)
    if -value.as_tuple().exponent > digits:
        if digits == 0:
            raise AmountError(f"{currency.upper()} amounts have no decimals; enter a whole number.")
        raise AmountError(f"Use at most {digits} decimals, like {example}.")
    minor = int(value.scaleb(digits))
    if minor <= 0:
        raise AmountError("Enter an amount greater than zero.")
    return minor
