"""What flexbill reads from a Stripe key or signing secret without asking Stripe, and what an organization's
preferences may hold: pure functions, no database."""

import pytest
from babel import Locale
from hypothesis import given
from hypothesis import strategies as st

from flexbill.accounts.organization_rules import COMMON_LOCALES, known_currency, known_locale, organization_name
from flexbill.errors import InvalidInput
from flexbill.stripe_gateway.keys import is_webhook_secret, key_mode, last4

pytestmark = pytest.mark.nostripe

TAIL = "4eC39HqLyjWDarjtT1zdp7dc"


@pytest.mark.parametrize(
    ("key", "mode"),
    [
        (f"sk_test_{TAIL}", "test"),
        (f"sk_live_{TAIL}", "live"),
        (f"rk_test_{TAIL}", "test"),
        (f"rk_live_{TAIL}", "live"),
        (f"pk_test_{TAIL}", None),  # a publishable key cannot read anything
        (f"pk_live_{TAIL}", None),
        (f"whsec_{TAIL}", None),
        (f"sk_prod_{TAIL}", None),
        (f"SK_TEST_{TAIL}", None),
        (f" sk_test_{TAIL}", None),
        (f"sk_test_{TAIL} trailing", None),
        ("sk_test_", None),
        ("sk_test_short", None),
        ("sk_live_" + "a" * 248, None),  # longer than flexbill stores
        ("", None),
    ],
)
def test_the_mode_is_read_from_a_secret_or_restricted_keys_prefix_and_nothing_else_has_one(key, mode):
    assert key_mode(key) == mode


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("whsec_" + "A1b2" * 8, True),
        ("whsec_" + "0123456789abcdef" * 4, True),  # the Stripe CLI's hex secrets
        ("whsec_test_flexbill", True),
        ("whsec_", False),
        ("whsec_short", False),
        ("sk_test_" + TAIL, False),
        ("whsec_has space inside", False),
        ("WHSEC_" + "A1b2" * 8, False),
    ],
)
def test_a_signing_secret_must_look_like_whsec(value, accepted):
    assert is_webhook_secret(value) is accepted


@given(st.text(max_size=300))
def test_at_most_the_last_four_characters_of_a_secret_are_ever_shown(secret):
    shown = last4(secret)
    assert len(shown) <= 4 and secret.endswith(shown)
    if len(secret) < 16:
        assert shown == ""


@pytest.mark.parametrize("locale", COMMON_LOCALES)
def test_every_locale_offered_in_the_form_is_known(locale):
    assert known_locale(locale) == locale


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("de_DE", "de_DE"),
        ("de-DE", "de_DE"),
        ("de-de", "de_DE"),
        (" fr_CH ", "fr_CH"),
        ("es_419", "es_419"),
        ("zh_Hant_TW", "zh_Hant_TW"),
        ("de", "de"),
    ],
)
def test_a_known_locale_is_stored_in_babels_spelling(typed, stored):
    assert known_locale(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", " ", "xx_YY", "und", "root", "en_US_POSIX", "de_DE@euro", "de_DE.UTF-8", "de_\nDE", "de_DE_DE", "d" * 5000,
     "١٢", None, 12, ["de_DE"]],
)  # fmt: skip
def test_an_unknown_or_odd_locale_is_refused(typed):
    with pytest.raises(InvalidInput) as refused:
        known_locale(typed)
    assert refused.value.code == "locale_invalid"


@given(st.text(max_size=30))
def test_any_text_is_either_a_locale_babel_formats_money_in_or_refused_with_locale_invalid(text):
    try:
        locale = known_locale(text)
    except InvalidInput as exc:
        assert exc.code == "locale_invalid"
    else:
        assert str(Locale.parse(locale)) == locale


@pytest.mark.parametrize(("typed", "stored"), [("EUR", "eur"), ("usd", "usd"), (" jpy ", "jpy")])
def test_a_currency_stripe_charges_is_stored_lower_case(typed, stored):
    assert known_currency(typed) == stored


@pytest.mark.parametrize("typed", ["", "xau", "xts", "euro", "€", None, 978])
def test_a_currency_stripe_does_not_charge_is_refused(typed):
    with pytest.raises(InvalidInput) as refused:
        known_currency(typed)
    assert refused.value.code == "currency_invalid"


@pytest.mark.parametrize(
    "typed", ["", "   ", "a" * 201, "Harbour\nCoworking", "Harbour\x00", "Harbour\u2028Co", "A\u202eB"]
)
def test_an_empty_too_long_or_multi_line_name_is_refused(typed):
    with pytest.raises(InvalidInput) as refused:
        organization_name(typed)
    assert refused.value.code == "name_invalid"


def test_a_name_is_kept_as_typed_without_surrounding_spaces():
    assert organization_name("  Harbour & Co — Zürich  ") == "Harbour & Co — Zürich"
