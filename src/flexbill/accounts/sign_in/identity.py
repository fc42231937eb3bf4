"""The one rule that turns what someone typed into the identity they sign in as.

Sign-in and its throttle both use it, so every spelling that reaches an account ("Owner@X", " owner@x ",
full-width "ｏｗｎｅｒ@ｘ") is counted against that account, and spellings that reach no account are counted under
the same form too.
"""

import unicodedata

MAX_IDENTITY_LENGTH = 254


def sign_in_identity(typed: str) -> str:
    """NFKC (compatibility forms fold to plain letters), no surrounding spaces, lower case.

    NFKC runs again after lower-casing because a few characters lower to sequences that NFKC composes further.
    """
    text = unicodedata.normalize("NFKC", typed).strip().lower()
    return unicodedata.normalize("NFKC", text).strip()[:MAX_IDENTITY_LENGTH]
