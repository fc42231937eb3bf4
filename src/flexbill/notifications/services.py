"""Refund emails: the customer hears when a refund succeeds; billing admins hear when one fails; those who may
approve refunds hear when one waits for their approval."""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.urls import reverse

from flexbill.accounts.models import Membership
from flexbill.accounts.permissions import Permission
from flexbill.billing.models import Refund
from flexbill.choices import NotificationOutcome, RefundStatus

from .models import RefundNotification
from .text import mailbox, render_subject, render_text

log = logging.getLogger("flexbill.notifications")
Kind = RefundNotification.Kind


# The outbox events that send an e-mail, and which.
KIND_FOR_EVENT = {
    "refund.succeeded": Kind.CUSTOMER_REFUND_SUCCEEDED,
    "refund.failed": Kind.ADMINS_REFUND_FAILED,
    "refund.awaiting_approval": Kind.APPROVERS_REFUND_AWAITING,
}


def notify_for_event(event) -> str | None:
    """The e-mail an outbox event calls for, if any (the worker, outbox/dispatch.py). Its Message-ID is made from
    the event's id, so a repeat after a crash is recognisable as the same message."""
    kind = KIND_FOR_EVENT.get(event.type)
    if kind is None or event.refund_id is None:
        return None
    return refund_notify(refund_id=event.refund_id, kind=kind, event_id=str(event.event_id))


def refund_notify(*, refund_id: int, kind: str, event_id: str | None = None) -> str:
    refund = (
        Refund.objects.select_related("charge__invoice__customer", "organization", "created_by")
        .filter(pk=refund_id)
        .first()
    )
    if refund is None:  # a refund Stripe refused is removed: nobody is told of money that never moved
        return NotificationOutcome.NOT_SENT
    organization = refund.organization
    if kind == Kind.CUSTOMER_REFUND_SUCCEEDED:
        if refund.status != RefundStatus.SUCCEEDED or not organization.refund_emails_enabled:
            return NotificationOutcome.NOT_SENT
        recipients = [refund.charge.invoice.customer.email]
    elif kind == Kind.APPROVERS_REFUND_AWAITING:
        if refund.status != RefundStatus.AWAITING_APPROVAL:
            return NotificationOutcome.NOT_SENT
        recipients = _approver_emails(organization, requester_id=refund.created_by_id)
    else:
        if refund.status != RefundStatus.FAILED:
            return NotificationOutcome.NOT_SENT
        recipients = _billing_admin_emails(organization)
    if not recipients:
        return NotificationOutcome.NO_RECIPIENTS
    try:
        with transaction.atomic():
            RefundNotification.objects.create(refund=refund, kind=kind, recipients=recipients)
            context = {
                "refund": refund,
                "invoice": refund.charge.invoice,
                "organization": organization,
                "approvals_url": approvals_url(),
                "approval_days": settings.FLEXBILL_REFUND_APPROVAL_DAYS,
            }
            subject = render_subject(f"notifications/{kind}_subject.txt", context)
            body = render_text(f"notifications/{kind}.txt", context)
            sender = mailbox(organization.name, settings.DEFAULT_FROM_EMAIL)
            # Inside the claim's transaction: if sending fails, the claim is rolled back and a retry may send.
            headers = {"Message-ID": f"<{event_id}.{kind}@flexbill>"} if event_id else None
            EmailMessage(subject, body, sender, recipients, headers=headers).send()
    except IntegrityError:
        return NotificationOutcome.ALREADY_SENT
    log.info("Sent %s for refund %s to %s", kind, refund_id, recipients)
    return NotificationOutcome.SENT


def _billing_admin_emails(organization) -> list[str]:
    # has_permission is False for invitations not yet accepted: they hear nothing until they join.
    memberships = Membership.objects.filter(organization=organization).select_related("user", "custom_role")
    return sorted({m.user.email for m in memberships if m.user.email and m.has_permission(Permission.CHARGES_REFUND)})


def _approver_emails(organization, *, requester_id: int | None) -> list[str]:
    """Everyone who may approve the refund: holders of billing.refunds.approve other than its requester."""
    memberships = Membership.objects.filter(organization=organization).select_related("user", "custom_role")
    return sorted(
        {
            m.user.email
            for m in memberships
            if m.user.email and m.user_id != requester_id and m.has_permission(Permission.REFUNDS_APPROVE)
        }
    )


def approvals_url() -> str:
    """The Approvals page: absolute under FLEXBILL_PUBLIC_URL, else its path (the worker has no request)."""
    return f"{settings.FLEXBILL_PUBLIC_URL or ''}{reverse('web:approvals')}"
