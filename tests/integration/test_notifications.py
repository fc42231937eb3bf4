"""Refund emails (issue: beyond the refund button): once per refund, per-organization switch, admins on failure."""

from flexbill.billing import services
from flexbill.choices import RefundOrigin
from flexbill.notifications.models import RefundNotification
from flexbill.notifications.services import refund_notify


def _refund(owner, charge, amount, capture):
    with capture(execute=True):
        return services.refund_create(membership=owner, charge=charge, amount=amount)


def test_customer_is_emailed_once_when_a_refund_succeeds(
    org, owner, paid_charge, mailoutbox, django_capture_on_commit_callbacks
):
    refund = _refund(owner, paid_charge, 2500, django_capture_on_commit_callbacks)

    assert refund.status == "succeeded"
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == [paid_charge.invoice.customer.email]
    assert paid_charge.invoice.number in email.subject
    assert "$25.00" in email.subject
    assert "5–10 business days" in email.body
    assert "Requested by customer" in email.body


def test_repeated_notification_for_the_same_refund_sends_nothing_more(
    org, owner, paid_charge, mailoutbox, django_capture_on_commit_callbacks
):
    refund = _refund(owner, paid_charge, 1000, django_capture_on_commit_callbacks)

    assert refund_notify(refund_id=refund.pk, kind="customer_refund_succeeded") == "already sent"
    assert refund_notify(refund_id=refund.pk, kind="customer_refund_succeeded") == "already sent"
    assert len(mailoutbox) == 1
    assert RefundNotification.objects.filter(refund=refund).count() == 1


def test_organization_switch_off_means_no_customer_email(
    org, owner, paid_charge, mailoutbox, django_capture_on_commit_callbacks
):
    org.refund_emails_enabled = False
    org.save()
    paid_charge.organization.refresh_from_db()

    _refund(owner, paid_charge, 1000, django_capture_on_commit_callbacks)

    assert mailoutbox == []


def test_failed_refund_notifies_the_billing_admins_not_the_customer(
    org, owner, make_member, paid_charge, mailoutbox, django_capture_on_commit_callbacks
):
    clerk = make_member(org, "clerk")
    make_member(org, "member")  # may not refund: not told
    refund = _refund(owner, paid_charge, 1000, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    refund.status = "failed"
    refund.failure_reason = "expired_or_canceled_card"
    refund.save()

    assert refund_notify(refund_id=refund.pk, kind="admins_refund_failed") == "sent"

    assert len(mailoutbox) == 1
    assert sorted(mailoutbox[0].to) == sorted([owner.user.email, clerk.user.email])
    assert "expired_or_canceled_card" in mailoutbox[0].body


def test_customer_email_shows_the_staff_note_of_a_refund_made_in_flexbill_only(
    org, owner, paid_charge, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_create(membership=owner, charge=paid_charge, amount=1000, note="Sorry for the double booking")
    with django_capture_on_commit_callbacks(execute=False):
        from_stripe = services.refund_create(membership=owner, charge=paid_charge, amount=500)
    from_stripe.origin, from_stripe.note = RefundOrigin.STRIPE, "Internal: seen in the Stripe dashboard"
    from_stripe.save()

    assert refund_notify(refund_id=from_stripe.pk, kind="customer_refund_succeeded") == "sent"

    assert len(mailoutbox) == 2
    assert "Note: Sorry for the double booking" in mailoutbox[0].body
    assert "Note:" not in mailoutbox[1].body
