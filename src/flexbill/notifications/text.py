"""E-mail text: templates rendered as plain text, and header values made safe to send.

A header is one line: Django refuses a subject with a line break (BadHeaderError), which would lose the e-mail,
and control characters or Unicode line separators in a subject or a display name are invisible or break the line
in mail clients. Names and invoice numbers typed by people end up in headers, so every header value goes through
`header_line`. Bodies keep their text as it was typed."""

import unicodedata
from email.utils import formataddr, parseaddr

from django.template import Context
from django.template.loader import get_template

from flexbill import choices

SUBJECT_MAX = 200
DISPLAY_NAME_MAX = 100

# Control characters (NUL, tab, CR, LF, NEL, ...), line and paragraph separators, and lone surrogates (they
# cannot be encoded, so the message could not be sent).
_BREAKING = {"Cc", "Zl", "Zp", "Cs"}


def header_line(text: str, *, max_length: int = SUBJECT_MAX) -> str:
    """One line of readable text: breaking characters and runs of whitespace become one space, the ends are
    trimmed, and a value longer than max_length is cut with an ellipsis."""
    spaced = "".join(" " if unicodedata.category(ch) in _BREAKING else ch for ch in str(text))
    line = " ".join(spaced.split())
    if len(line) > max_length:
        line = line[: max_length - 1].rstrip() + "…"
    return line


def mailbox(display_name: str, address: str) -> str:
    """`"Display Name" <address>`, quoted and encoded by the standard library; the bare address if no name."""
    name = header_line(display_name, max_length=DISPLAY_NAME_MAX)
    return formataddr((name, parseaddr(address)[1] or address)) if name else address


def render_text(template_name: str, context: dict) -> str:
    """A template rendered as plain text: an e-mail is not HTML, so `A&B` must stay `A&B`, not `A&amp;B`."""
    return get_template(template_name).template.render(Context({"choices": choices, **context}, autoescape=False))


def render_subject(template_name: str, context: dict) -> str:
    return header_line(render_text(template_name, context))
