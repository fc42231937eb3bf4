"""A real password hasher that counts how many passwords it checked: proves how many attempts got that far."""

import threading

from django.contrib.auth.hashers import MD5PasswordHasher

_lock = threading.Lock()
_checked = 0


class CountingMD5Hasher(MD5PasswordHasher):
    def verify(self, password, encoded):
        global _checked
        with _lock:
            _checked += 1
        return super().verify(password, encoded)


def passwords_checked() -> int:
    with _lock:
        return _checked


def use_counting_hasher(settings) -> None:
    """Point Django at the counting hasher (MD5, like the rest of the tests) and start from zero."""
    global _checked
    settings.PASSWORD_HASHERS = ["password_checks.CountingMD5Hasher"]
    with _lock:
        _checked = 0
