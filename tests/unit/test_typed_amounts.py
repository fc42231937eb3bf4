"""Amounts typed in the UI: one parser, the organization's locale, ASCII digits, never a different amount."""

import re
from decimal import Decimal

import pytest
from babel.numbers import format_currency, get_currency_precision
from hypothesis import given, settings
from hypothesis import strategies as st

from flexbill.billing.rules import MAX_AMOUNT
from flexbill.web.money import AmountError, format_money, number_style, parse_major, to_major

pytestmark = pytest.mark.nostripe

LOCALES = ["en_US", "de_DE", "fr_FR", "de_CH", "en_IN", "es_ES", "pl_PL", "it_CH"]
CURRENCIES = ["jpy", "eur", "usd", "kwd", "bhd"]  # 0, 2 and 3 decimals
AMOUNTS = st.integers(min_value=1, max_value=MAX_AMOUNT)
NON_ASCII_DIGITS = st.characters(categories=["Nd", "Nl", "No"]).filter(lambda ch: not ch.isascii())


def number_part(shown: str, locale: str) -> str:
    """ "1.234,50 €" -> "1.234,50": babel's display of an amount without its currency sign."""
    style = number_style(locale)
    kept = "".join(ch for ch in shown if ch.isdigit() or ch in style.decimal + style.group_accepted)
    return kept.strip(" \u00a0\u202f")


@settings(max_examples=300)
@given(locale=st.sampled_from(LOCALES), currency=st.sampled_from(CURRENCIES), amount=AMOUNTS)
def test_an_amount_prefilled_in_a_form_is_read_back_as_exactly_the_same_minor_units(locale, currency, amount):
    assert parse_major(to_major(amount, currency, locale), currency, locale) == amount


# babel drops apostrophe group separators from a million up ("1000000'000" in de_CH): its own display of such
# amounts is malformed, so those locales are checked against format_money, which the confirmation uses.
BABEL_FORMATS_RIGHT = [locale for locale in LOCALES if number_style(locale).group not in "'’"]


@settings(max_examples=300)
@given(locale=st.sampled_from(BABEL_FORMATS_RIGHT), currency=st.sampled_from(CURRENCIES), amount=AMOUNTS)
def test_an_amount_written_in_the_locales_own_currency_format_is_read_as_exactly_that_amount(locale, currency, amount):
    shown = format_currency(
        Decimal(amount).scaleb(-get_currency_precision(currency.upper())), currency.upper(), locale=locale
    )
    assert parse_major(number_part(shown, locale), currency, locale) == amount


@settings(max_examples=300)
@given(locale=st.sampled_from(LOCALES), currency=st.sampled_from(CURRENCIES), amount=AMOUNTS)
def test_the_amount_a_confirmation_shows_is_read_back_as_exactly_that_amount(locale, currency, amount):
    shown = format_money(amount, currency, locale)
    assert to_major(amount, currency, locale) in shown
    assert parse_major(number_part(shown, locale), currency, locale) == amount


@settings(max_examples=300)
@given(
    locale=st.sampled_from(LOCALES),
    currency=st.sampled_from(CURRENCIES),
    amount=AMOUNTS,
    digit=NON_ASCII_DIGITS,
    data=st.data(),
)
def test_any_amount_with_a_digit_other_than_0_to_9_is_refused(locale, currency, amount, digit, data):
    typed = to_major(amount, currency, locale)
    at = data.draw(st.integers(min_value=0, max_value=len(typed)))
    replace = data.draw(st.booleans()) and at < len(typed) and typed[at].isdigit()
    typed = typed[:at] + digit + typed[at + 1 if replace else at :]
    with pytest.raises(AmountError, match="digits 0-9"):
        parse_major(typed, currency, locale)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("zero", ["\u0660", "\u06f0", "\u0966", "\uff10", "\U0001d7ce"])  # Arabic-Indic, Persian, …
def test_an_amount_written_entirely_in_another_script_s_digits_is_refused(locale, zero):
    typed = "".join(chr(ord(zero) + int(ch)) if ch.isdigit() else ch for ch in to_major(1250, "eur", locale))
    with pytest.raises(AmountError, match="digits 0-9"):
        parse_major(typed, "eur", locale)


TYPING = st.text(alphabet="0123456789.,' \u00a0\u202f\u2019-+e", max_size=16)


@settings(max_examples=1000)
@given(locale=st.sampled_from(LOCALES), currency=st.sampled_from(CURRENCIES), typed=TYPING)
def test_an_accepted_amount_is_exactly_the_digits_typed_and_the_amount_its_confirmation_shows(locale, currency, typed):
    try:
        amount = parse_major(typed, currency, locale)
    except AmountError:
        return
    style, decimals = number_style(locale), get_currency_precision(currency.upper())
    whole, _, fraction = typed.strip().partition(style.decimal)
    # The digits typed, in their order, scaled by the decimals typed: separators are the only thing dropped.
    assert amount == int(re.sub("[^0-9]", "", whole + fraction)) * 10 ** (decimals - len(fraction))
    assert parse_major(number_part(format_money(amount, currency, locale), locale), currency, locale) == amount
    assert parse_major(to_major(amount, currency, locale), currency, locale) == amount


@pytest.mark.parametrize(
    ("locale", "currency", "typed", "minor"),
    [
        pytest.param("en_US", "usd", "12.50", 1250, id="dot-decimal"),
        pytest.param("en_US", "usd", "1,234.50", 123450, id="dot-decimal-grouped"),
        pytest.param("en_US", "usd", "1,234", 123400, id="dot-decimal-one-group-is-thousands"),
        pytest.param("en_US", "usd", "12.5", 1250, id="fewer-decimals"),
        pytest.param("en_US", "usd", "  12.50 ", 1250, id="spaces-around"),
        pytest.param("en_US", "usd", "0.01", 1, id="one-cent"),
        pytest.param("de_DE", "eur", "12,50", 1250, id="comma-decimal"),
        pytest.param("de_DE", "eur", "1.234,50", 123450, id="comma-decimal-grouped"),
        pytest.param("de_DE", "eur", "1.234", 123400, id="comma-decimal-one-group-is-thousands"),
        pytest.param("fr_FR", "eur", "1\u202f234,50", 123450, id="fr-narrow-nbsp-group"),
        pytest.param("fr_FR", "eur", "1\u00a0234,50", 123450, id="fr-nbsp-group"),
        pytest.param("fr_FR", "eur", "1 234,50", 123450, id="fr-space-group"),
        pytest.param("de_CH", "chf", "1'234.50", 123450, id="ch-apostrophe-group"),
        pytest.param("de_CH", "chf", "1\u2019234.50", 123450, id="ch-curly-apostrophe-group"),
        pytest.param("en_IN", "inr", "12,34,567.50", 123456750, id="indian-grouping"),
        pytest.param("en_US", "jpy", "1,250", 1250, id="zero-decimal-currency"),
        pytest.param("de_DE", "kwd", "1,234", 1234, id="three-decimal-currency"),
        pytest.param("xx_YY", "usd", "12.50", 1250, id="unknown-locale-reads-as-en-us"),
    ],
)
def test_an_amount_in_the_organizations_locale_is_read_exactly(locale, currency, typed, minor):
    assert parse_major(typed, currency, locale) == minor


@pytest.mark.parametrize(
    ("locale", "currency", "typed", "message"),
    [
        # The other convention: refused, and the message shows what it would mean written here.
        pytest.param("en_US", "eur", "12,50", "12,50 is not an amount here: type 12.50 for €12.50.", id="comma-in-en"),
        pytest.param(
            "de_DE", "eur", "12.50", "12.50 is not an amount here: type 12,50 for 12,50\xa0€.", id="dot-in-de"
        ),
        pytest.param("fr_FR", "eur", "12.50", "type 12,50 for 12,50\xa0€", id="dot-in-fr"),
        pytest.param("en_US", "eur", "1.234", "at most 2; money is never rounded", id="ambiguous-thousands-in-en"),
        pytest.param("en_US", "eur", "1.234", "or 1,234.00 for €1,234.00", id="ambiguous-thousands-suggests"),
        pytest.param("de_DE", "eur", "1,234", "or 1.234,00 for 1.234,00\xa0€", id="ambiguous-thousands-in-de"),
        pytest.param("en_US", "eur", "1.234,50", "type 1,234.50 for €1,234.50", id="german-grouping-in-en"),
        # Separators out of place.
        pytest.param("en_US", "usd", "1,2,3", "1,2,3 is not an amount: type it like 1,234.50 or 1234.50", id="1,2,3"),
        pytest.param("en_US", "usd", "12,34", "is not an amount", id="short-group"),
        pytest.param("en_US", "usd", "1,2345", "is not an amount", id="long-group"),
        pytest.param("en_US", "usd", "1234,567.00", "is not an amount", id="long-first-group"),
        pytest.param("en_IN", "inr", "1,234,567.50", "like 1,234.50 or 1234.50", id="western-grouping-in-in"),
        pytest.param("en_US", "usd", ",123", "is not an amount", id="leading-group"),
        pytest.param("en_US", "usd", "123,", "is not an amount", id="trailing-group"),
        pytest.param("en_US", "usd", ".50", "is not an amount", id="leading-decimal"),
        pytest.param("en_US", "usd", "12.", "is not an amount", id="trailing-decimal"),
        pytest.param("en_US", "usd", "1.2.3", "is not an amount", id="two-decimals"),
        pytest.param("en_US", "usd", "012.50", "is not an amount", id="leading-zero"),
        pytest.param("en_US", "usd", "1,234,5", "is not an amount", id="group-then-short"),
        # Not digits and separators.
        pytest.param("en_US", "usd", "-5", "no sign", id="minus"),
        pytest.param("en_US", "usd", "+5", "no sign", id="plus"),
        pytest.param("en_US", "usd", "(5)", "no sign", id="accounting-negative"),
        pytest.param("en_US", "usd", "1e3", "is not an amount", id="exponent"),
        pytest.param("en_US", "usd", "1E3", "is not an amount", id="exponent-upper"),
        pytest.param("en_US", "usd", "NaN", "is not an amount", id="nan"),
        pytest.param("en_US", "usd", "Infinity", "is not an amount", id="infinity"),
        pytest.param("en_US", "usd", "inf", "is not an amount", id="inf"),
        pytest.param("en_US", "usd", "1_000", "is not an amount", id="underscore"),
        pytest.param("en_US", "usd", "0x10", "is not an amount", id="hex"),
        pytest.param("en_US", "usd", "$12", "is not an amount", id="currency-sign"),
        pytest.param("en_US", "usd", "12 USD", "is not an amount", id="currency-code"),
        pytest.param("en_US", "usd", "12 50", "is not an amount", id="space-inside"),
        pytest.param("en_US", "usd", "1\u00a0234", "1[NO-BREAK SPACE]234 is not an amount", id="nbsp-in-en"),
        pytest.param("de_DE", "eur", "1\u202f234", "[NARROW NO-BREAK SPACE]", id="narrow-nbsp-in-de"),
        pytest.param("en_US", "usd", "12\u200b50", "[ZERO WIDTH SPACE]", id="zero-width-space"),
        pytest.param("en_US", "usd", "12\t50", "is not an amount", id="tab-inside"),
        # Digits that are not 0-9.
        pytest.param("en_US", "usd", "１２", "digits 0-9", id="full-width"),
        pytest.param("en_US", "usd", "٣", "digits 0-9", id="arabic-indic"),
        pytest.param("de_DE", "eur", "12,٥٠", "digits 0-9", id="mixed-scripts"),
        pytest.param("en_US", "usd", "²", "digits 0-9", id="superscript"),
        pytest.param("en_US", "usd", "Ⅻ", "digits 0-9", id="roman-numeral"),
        # Decimals the currency does not have: refused, never rounded.
        pytest.param("en_US", "usd", "12.505", "too many decimals for USD (at most 2", id="three-decimals-usd"),
        pytest.param("en_US", "eur", "0.001", "too many decimals for EUR", id="below-a-cent"),
        pytest.param("en_US", "jpy", "12.5", "too many decimals for JPY (none", id="decimals-in-jpy"),
        pytest.param("en_US", "jpy", "12.0", "too many decimals for JPY (none", id="zero-decimals-in-jpy"),
        pytest.param("en_US", "kwd", "1.2345", "too many decimals for KWD (at most 3", id="four-decimals-kwd"),
        # Nothing, nothing of value, or too much.
        pytest.param("en_US", "usd", "", "Enter an amount.", id="empty"),
        pytest.param("en_US", "usd", "   ", "Enter an amount.", id="blank"),
        pytest.param("en_US", "usd", "0", "greater than zero", id="zero"),
        pytest.param("de_DE", "eur", "0,00", "greater than zero", id="zero-with-decimals"),
        pytest.param("en_US", "usd", "10000000000.01", "more than any invoice", id="beyond-the-maximum"),
        pytest.param("en_US", "usd", "1" * 31, "Enter an amount like 1,234.50.", id="too-long"),
    ],
)
def test_an_ambiguous_or_malformed_amount_is_refused_with_what_to_type(locale, currency, typed, message):
    with pytest.raises(AmountError) as refused:
        parse_major(typed, currency, locale)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("locale", "currency", "minor", "shown"),
    [
        ("en_US", "usd", 123450, "1,234.50"),
        ("de_DE", "eur", 123450, "1.234,50"),
        ("fr_FR", "eur", 123450, "1\u202f234,50"),
        ("de_CH", "chf", 123456750, "1'234'567.50"),
        ("en_IN", "inr", 123456750, "12,34,567.50"),
        ("en_US", "jpy", 1250, "1,250"),
        ("de_DE", "bhd", 1234, "1,234"),
    ],
)
def test_prefilled_amounts_are_written_the_way_the_locale_writes_them(locale, currency, minor, shown):
    assert to_major(minor, currency, locale) == shown
