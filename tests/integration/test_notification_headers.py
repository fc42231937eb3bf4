"""Refund e-mails whatever the text in them: invoice numbers, customer and organization names holding line breaks,
control characters, Unicode separators or HTML-like text reach the subject and the sender's name as one safe line of
plain text, the body keeps the text as typed, and the e-mail is sent (once)."""

from email import policy
from email.parser import BytesParser

import pytest
from django.db import connection

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Invoice
from flexbill.notifications.models import RefundNotification
from flexbill.notifications.services import refund_notify
from flexbill.notifications.text import DISPLAY_NAME_MAX, SUBJECT_MAX

# (what is typed inside a name or number, what the subject shows in its place)
HOSTILE_TEXT = [
    pytest.param("\n", " ", id="newline"),
    pytest.param("\r\n", " ", id="crlf"),
    pytest.param("\r", " ", id="cr"),
    pytest.param("\t", " ", id="tab"),
    pytest.param("\x00", " ", id="nul"),
    pytest.param("\x0b\x0c", " ", id="vertical-tab-form-feed"),
    pytest.param("\x85", " ", id="next-line"),
    pytest.param("\u2028", " ", id="line-separator"),
    pytest.param("\u2029", " ", id="paragraph-separator"),
    pytest.param(" \n\t \r\n ", " ", id="run-of-breaks"),
    pytest.param(" A&B <x> ", " A&B <x> ", id="html-like"),
    pytest.param(' "Q", <a@b.c> ', ' "Q", <a@b.c> ', id="address-like"),
    pytest.param(" Café Ωμέγα ", " Café Ωμέγα ", id="non-ascii"),
]


@pytest.fixture
def refund_with_names(make_org, make_member, django_capture_on_commit_callbacks):
    """refund_with_names(piece) -> a succeeded refund of 25.00 on invoice INV<piece>7 of customer Ada<piece>Lovelace
    in organization Harbour<piece>Works, its e-mail sent as the refund commits."""

    def make(piece: str, *, customer_name: str | None = None, org_name: str | None = None):
        if "\x00" in piece and connection.vendor == "postgresql":
            pytest.skip("PostgreSQL text cannot hold NUL, so no stored name can carry one")
        org = make_org(name=org_name or f"Harbour{piece}Works")
        owner = make_member(org, "owner")
        customer = services.customer_create(
            organization=org, name=customer_name or f"Ada{piece}Lovelace", email="ada@example.com", actor=SYSTEM
        )
        method = services.payment_method_add(customer=customer, stripe_payment_method="pm_card_visa", actor=SYSTEM)
        invoice = services.invoice_create(
            organization=org,
            customer=customer,
            currency="usd",
            payment_method="stripe_card",
            lines=[{"description": "Dedicated desk", "amount": 10000}],
            actor=SYSTEM,
        )
        # flexbill now refuses control characters in new invoice numbers; numbers given before that, or imported,
        # may still hold them, so the stored number is written as it would stand in such a row.
        Invoice.objects.filter(pk=invoice.pk).update(number=f"INV{piece}7")
        invoice.refresh_from_db()
        charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)
        with django_capture_on_commit_callbacks(execute=True):
            return services.refund_create(actor=Actor.for_membership(owner), charge=charge, amount=2500)

    return make


def _as_sent(email):
    """The message as a mail server receives it, parsed back."""
    return BytesParser(policy=policy.default).parsebytes(email.message().as_bytes())


def _subject_as_sent(email) -> str:
    # An encoded (non-ASCII) subject is folded onto the line after "Subject:"; readers drop that leading space.
    return _as_sent(email)["Subject"].lstrip()


@pytest.mark.parametrize(("piece", "shown"), HOSTILE_TEXT)
def test_member_refund_email_is_sent_with_names_and_number_on_one_plain_line(
    refund_with_names, mailoutbox, settings, piece, shown
):
    refund = refund_with_names(piece)

    assert refund.status == "succeeded"
    assert len(mailoutbox) == 1, "the e-mail was lost"
    email = mailoutbox[0]
    assert email.subject == f"Your refund of $25.00 for invoice INV{shown}7 from Harbour{shown}Works"
    assert _subject_as_sent(email) == email.subject
    sender = _as_sent(email)["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (f"Harbour{shown}Works", settings.DEFAULT_FROM_EMAIL)
    assert email.to == ["ada@example.com"]
    # The body is not a header: it keeps the text exactly as typed.
    assert f"Hello Ada{piece}Lovelace," in email.body
    assert f"of invoice INV{piece}7." in email.body
    assert RefundNotification.objects.filter(refund=refund).count() == 1


@pytest.mark.parametrize(("piece", "shown"), HOSTILE_TEXT)
def test_admins_refund_failed_email_is_sent_with_names_and_number_on_one_plain_line(
    refund_with_names, mailoutbox, piece, shown
):
    refund = refund_with_names(piece)
    mailoutbox.clear()
    refund.status = "failed"
    refund.failure_reason = "expired_or_canceled_card"
    refund.save()

    assert refund_notify(refund_id=refund.pk, kind="admins_refund_failed") == "sent"

    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.subject == f"Refund failed: $25.00 on invoice INV{shown}7 (Ada{shown}Lovelace)"
    assert _subject_as_sent(email) == email.subject
    assert f"on invoice INV{piece}7 (Ada{piece}Lovelace) failed." in email.body


def test_an_email_with_hostile_text_is_still_sent_only_once(refund_with_names, mailoutbox):
    refund = refund_with_names("\r\n<b>&</b>\u2028")

    assert refund_notify(refund_id=refund.pk, kind="customer_refund_succeeded") == "already sent"
    assert refund_notify(refund_id=refund.pk, kind="customer_refund_succeeded") == "already sent"
    assert len(mailoutbox) == 1
    assert RefundNotification.objects.filter(refund=refund).count() == 1


def test_long_names_are_cut_to_a_readable_subject_and_sender_name(refund_with_names, mailoutbox):
    refund_with_names("-", customer_name="C" * 200, org_name="O" * 200)

    email = mailoutbox[0]
    assert len(email.subject) == SUBJECT_MAX and email.subject.endswith("O…")
    assert email.subject.startswith("Your refund of $25.00 for invoice INV-7 from OOO")
    display_name = _as_sent(email)["From"].addresses[0].display_name
    assert display_name == "O" * (DISPLAY_NAME_MAX - 1) + "…"
