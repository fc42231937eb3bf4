"""Fernet keys from FLEXBILL_ENCRYPTION_KEYS, and the encryption of stored secrets with them.

The first key encrypts; every key decrypts. To rotate, put a new key first and keep the old ones after it until
`flexbill rotate-encryption-keys` has re-encrypted every stored secret with the new key.
"""

import base64
import binascii
import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SETTING = "FLEXBILL_ENCRYPTION_KEYS"
GENERATE_HINT = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"

_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_TOKEN_VERSION = 0x80
# version (1) + timestamp (8) + IV (16) + HMAC (32), around AES-CBC blocks of 16 (at least one: PKCS7 padding).
_TOKEN_OVERHEAD = 57
_AES_BLOCK = 16


class SecretUndecryptable(ImproperlyConfigured):
    """A stored secret that no configured key decrypts: a configuration error, never garbage handed on."""

    def __init__(self, where: str):
        super().__init__(
            f"The stored secret {where} cannot be decrypted with any key in {SETTING}. The key that encrypted it is "
            f"missing from {SETTING}: put it back after the new key, then run `flexbill rotate-encryption-keys`."
        )


def parse_keys(raw: str) -> list[str]:
    """The comma-separated keys of FLEXBILL_ENCRYPTION_KEYS, each checked to be a Fernet key (never echoed)."""
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured(f"{SETTING} holds no key. Generate one with: {GENERATE_HINT}")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"{SETTING}: key {position} of {len(keys)} is not a Fernet key (32 url-safe base64-encoded bytes). "
                f"Generate one with: {GENERATE_HINT}"
            ) from exc
    return keys


def generate_key() -> str:
    return Fernet.generate_key().decode()


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    fernets = [Fernet(key) for key in keys]
    return fernets[0], MultiFernet(fernets)


def _configured() -> tuple[Fernet, MultiFernet]:
    keys = getattr(settings, SETTING, None)
    if not keys:
        raise ImproperlyConfigured(f"{SETTING} holds no key. Generate one with: {GENERATE_HINT}")
    return _fernets(tuple(keys))


def encrypt(plain: str) -> str:
    first, _ = _configured()
    return first.encrypt(plain.encode()).decode()


def decrypt(token: str, *, where: str) -> str:
    _, every = _configured()
    try:
        return every.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUndecryptable(where) from exc


def encrypted_with_first_key(token: str) -> bool:
    first, _ = _configured()
    try:
        first.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str, *, where: str) -> str:
    """The same secret encrypted with the first key (MultiFernet keeps the token's original timestamp)."""
    _, every = _configured()
    try:
        return every.rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUndecryptable(where) from exc


def looks_like_token(value: str) -> bool:
    """Whether `value` has the shape of a Fernet token, whatever key made it.

    Only the shape: a plain secret never has it by accident (Stripe's `sk_`/`whsec_` and flexbill's `fbwh_` decode
    to a first byte other than Fernet's version byte), but only a key can prove a token authentic.
    """
    if not _TOKEN_CHARACTERS.fullmatch(value):
        return False
    try:
        data = base64.urlsafe_b64decode(value.encode("ascii"))
    except (binascii.Error, ValueError):
        return False
    return (
        len(data) >= _TOKEN_OVERHEAD + _AES_BLOCK
        and (len(data) - _TOKEN_OVERHEAD) % _AES_BLOCK == 0
        and data[0] == _TOKEN_VERSION
    )
