"""Refund emails: the customer hears when a refund succeeds; billing admins hear when one fails; those who may
approve refunds hear when one waits for their approval."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django_tasks import task

from flexbill.accounts.models import Membership
from flexbill.accounts.permissions import Permission
from flexbill.billing.models import Refund
from flexbill.choices import NotificationOutcome, RefundStatus

from .models import RefundNotification
from .text import mailbox, render_subject, render_text

log = logging.getLogger("flexbill.notifications")
Kind = RefundNotification.Kind


KIND_FOR_STATUS = {
    RefundStatus.SUCCEEDED: Kind.CUSTOMER_REFUND_SUCCEEDED,
    RefundStatus.FAILED: Kind.ADMINS_REFUND_FAILED,
    RefundStatus.AWAITING_APPROVAL: Kind.APPROVERS_REFUND_AWAITING,
}


def on_audit_event(sender, instance, created, **kwargs) -> None:
    """Every refund status change is audited; the ones that reach succeeded or failed are emailed about,
    after the transaction that made them commits."""
    notification = _notification_for(instance) if created else None
    if notification is not None:
        transaction.on_commit(lambda: send_refund_notification.enqueue(*notification))


def on_audit_events(sender, events, **kwargs) -> None:
    """The same for audit events inserted together: one task for all their e-mails."""
    notifications = [n for n in map(_notification_for, events) if n is not None]
    if notifications:
        transaction.on_commit(lambda: send_refund_notifications.enqueue(notifications))


def _notification_for(event) -> tuple[int, str] | None:
    if event.object_type != "refund" or not event.action.startswith("refund."):
        return None
    kind = KIND_FOR_STATUS.get((event.after or {}).get("status"))
    return None if kind is None else (int(event.object_id), kind)


@task()
def send_refund_notification(refund_id: int, kind: str) -> str:
    return refund_notify(refund_id=refund_id, kind=kind)


@task()
def send_refund_notifications(notifications: list) -> dict:
    """Each e-mail on its own: one that cannot be sent does not keep the others from going out."""
    outcomes = {}
    for refund_id, kind in notifications:
        try:
            outcomes[f"{refund_id}:{kind}"] = refund_notify(refund_id=refund_id, kind=kind)
        except Exception:
            log.exception("Refund notification %s for refund %s failed", kind, refund_id)
            outcomes[f"{refund_id}:{kind}"] = NotificationOutcome.FAILED
    return outcomes


def refund_notify(*, refund_id: int, kind: str) -> str:
    refund = Refund.objects.select_related("charge__invoice__customer", "organization", "created_by").get(pk=refund_id)
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
            send_mail(subject, body, sender, recipients)
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
