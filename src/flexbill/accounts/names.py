"""Names people give things in the settings (roles, API tokens): one line of visible text, spaces folded."""

import unicodedata

from flexbill.errors import InvalidInput

INVISIBLE = {
    "Cc",
    "Cf",
    "Cs",
    "Co",
    "Cn",
}  # control, format (zero-width, bidi overrides), surrogate, private, unassigned


def name_clean(name, *, what: str, limit: int, required: str) -> str:
    """`what` opens the refusals ("A role's name"); `required` is the sentence for an empty name."""
    raw = str(name or "")
    if any(unicodedata.category(ch) in INVISIBLE for ch in raw):
        raise InvalidInput(f"{what} cannot contain line breaks, control or invisible characters.", code="name_invalid")
    text = " ".join(raw.split())
    if not text:
        raise InvalidInput(required, code="name_required")
    if len(text) > limit:
        raise InvalidInput(f"{what} is at most {limit} characters.", code="name_too_long")
    return text
