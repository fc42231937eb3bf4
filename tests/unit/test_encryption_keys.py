"""FLEXBILL_ENCRYPTION_KEYS parsing and the recognition of Fernet tokens: no database, no Stripe."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from flexbill.encryption.keys import looks_like_token, parse_keys

pytestmark = pytest.mark.nostripe

KEYS = [Fernet.generate_key().decode() for _ in range(3)]


def test_keys_are_comma_separated_with_the_first_one_first():
    assert parse_keys(f" {KEYS[0]} ,{KEYS[1]},, {KEYS[2]}\n") == KEYS


@pytest.mark.parametrize("raw", ["", " ", ",", " , ,"])
def test_a_setting_without_a_key_is_refused_naming_the_setting(raw):
    with pytest.raises(ImproperlyConfigured, match="FLEXBILL_ENCRYPTION_KEYS holds no key"):
        parse_keys(raw)


@given(st.text(alphabet=st.characters(blacklist_characters=","), min_size=1).filter(str.strip))
def test_a_malformed_key_is_refused_naming_the_setting_and_its_position_never_echoing_it(junk):
    try:
        Fernet(junk.strip())
    except (ValueError, TypeError):
        pass
    else:  # hypothesis found a real key
        return
    with pytest.raises(ImproperlyConfigured, match="FLEXBILL_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key") as e:
        parse_keys(f"{KEYS[0]},{junk}")
    with pytest.raises(ImproperlyConfigured) as other:
        parse_keys(f"{KEYS[0]},not-a-key")
    assert str(e.value) == str(other.value)  # the same sentence whatever the value: a key is never echoed


@given(st.binary(max_size=300), st.sampled_from(KEYS))
def test_every_fernet_token_is_recognised_as_one(plaintext, key):
    assert looks_like_token(Fernet(key).encrypt(plaintext).decode())


@given(st.sampled_from(["sk_test_", "sk_live_", "rk_live_", "whsec_", "fbwh_", ""]), st.text(max_size=120))
def test_plain_secrets_are_never_taken_for_tokens(prefix, rest):
    assert not looks_like_token(prefix + rest)


def test_a_truncated_or_altered_token_shape_is_not_a_token():
    token = Fernet(KEYS[0]).encrypt(b"sk_test_x").decode()
    assert not looks_like_token(token[:-8])
    assert not looks_like_token(token + "!")
    assert not looks_like_token("hA" + token[2:])  # not Fernet's version byte
