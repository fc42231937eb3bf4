"""E-mail header values: whatever text people typed, a header is one line Django can send, capped in length."""

import unicodedata
from email import policy
from email.parser import BytesParser

import pytest
from django.core.mail import EmailMessage
from hypothesis import given, settings
from hypothesis import strategies as st

from flexbill.notifications.text import DISPLAY_NAME_MAX, header_line, mailbox

pytestmark = pytest.mark.nostripe

BREAKING_CATEGORIES = {"Cc", "Zl", "Zp", "Cs"}
ANY_TEXT = st.text(
    st.characters(codec=None, exclude_categories=()) | st.sampled_from("\n\r\t\x00\x0b\x0c\x85\u2028\u2029 &<>\"'"),
    max_size=300,
)


@given(text=ANY_TEXT, max_length=st.integers(min_value=2, max_value=250))
def test_a_header_value_is_one_trimmed_line_of_at_most_max_length(text, max_length):
    line = header_line(text, max_length=max_length)

    assert not any(unicodedata.category(ch) in BREAKING_CATEGORIES for ch in line)
    assert line == line.strip() and "  " not in line
    assert len(line) <= max_length
    assert header_line(line, max_length=max_length) == line


@given(text=st.text(st.characters(exclude_categories=("Cc", "Zl", "Zp", "Cs", "Zs")), min_size=1, max_size=40))
def test_text_without_breaking_characters_is_kept_as_typed(text):
    assert header_line(f"A&B <x> {text}") == f"A&B <x> {text}"


@settings(max_examples=60, deadline=None)
@given(text=ANY_TEXT)
def test_any_text_as_subject_and_sender_name_gives_a_message_that_can_be_sent(text):
    subject = header_line(text)
    message = EmailMessage(subject, "body", mailbox(text, "billing@flexbill.test"), ["ada@example.com"])

    sent = BytesParser(policy=policy.default).parsebytes(message.message().as_bytes())

    assert sent["Subject"].lstrip() == subject
    sender = sent["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        header_line(text, max_length=DISPLAY_NAME_MAX),
        "billing@flexbill.test",
    )
