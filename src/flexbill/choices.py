"""Every status and choice flexbill stores or shows: one TextChoices class each, value and label together.

No ORM here (TextChoices is plain enum machinery), so billing.rules, the Stripe gateway and the API schemas use
the same members as the models' `choices=`. Code names a member (`RefundStatus.SUCCEEDED`), never its string:
tests/unit/test_bare_choice_values.py fails on a bare value anywhere else in src/. The values are the public
API's and the database's: renaming one is a data migration and a breaking API change.
"""

from django.db.models.enums import TextChoices


# Billing ----------------------------------------------------------------------------------------------------------
class InvoicePaymentMethod(TextChoices):
    STRIPE_CARD = "stripe_card", "Stripe card"
    STRIPE_ACH = "stripe_ach", "Stripe ACH"
    STRIPE_SEPA = "stripe_sepa", "Stripe SEPA"
    STRIPE_BACS = "stripe_bacs", "Stripe BACS"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CASH = "cash", "Cash"
    OTHER = "other", "Other"


class InvoiceStatus(TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    REFUNDED = "refunded", "Refunded"
    VOIDED = "voided", "Voided"
    FAILED = "failed", "Failed"


class ChargeStatus(TextChoices):
    PENDING = "pending", "Pending"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"


class ChargeDisplayStatus(TextChoices):
    """What staff see of a charge: Refund pending and Partially refunded are views of a Success charge."""

    PENDING = ChargeStatus.PENDING.value, ChargeStatus.PENDING.label
    SUCCESS = ChargeStatus.SUCCESS.value, ChargeStatus.SUCCESS.label
    FAILED = ChargeStatus.FAILED.value, ChargeStatus.FAILED.label
    REFUNDED = ChargeStatus.REFUNDED.value, ChargeStatus.REFUNDED.label
    REFUND_PENDING = "refund_pending", "Refund pending"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"


class ChargeSource(TextChoices):
    STRIPE = "stripe", "Stripe"
    XERO = "xero", "Xero"
    QUICKBOOKS = "quickbooks", "QuickBooks"
    MANUAL = "manual", "Manual"


class RefundStatus(TextChoices):
    # At or above the organization's approval threshold: reserved, not sent to Stripe until another person who may
    # approve refunds approves it (docs/rules.md, rule 21).
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    REQUESTED = "requested", "Requested"
    PENDING = "pending", "Pending"
    REQUIRES_ACTION = "requires_action", "Requires action"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


class RefundReason(TextChoices):
    REQUESTED_BY_CUSTOMER = "requested_by_customer", "Requested by customer"
    DUPLICATE = "duplicate", "Duplicate"
    FRAUDULENT = "fraudulent", "Fraudulent"
    OTHER = "other", "Other"


class RefundOrigin(TextChoices):
    APP = "app", "flexbill"
    STRIPE = "stripe", "Stripe"
    MANUAL = "manual", "Manual"


class ReportOrigin(TextChoices):
    """Where refunded money went out, as the refunds report groups it: a refund's origin, or a credit note that
    records money returned outside Stripe."""

    APP = RefundOrigin.APP.value, RefundOrigin.APP.label
    STRIPE = RefundOrigin.STRIPE.value, RefundOrigin.STRIPE.label
    MANUAL = RefundOrigin.MANUAL.value, RefundOrigin.MANUAL.label
    CREDIT_NOTE = "credit_note", "Credit note"


class RecordedRefundMethod(TextChoices):
    """How money returned outside Stripe went back, as a credit note records it."""

    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CASH = "cash", "Cash"
    CHECK = "check", "Check"
    CARD_TERMINAL = "card_terminal", "Card terminal"
    OTHER = "other", "Other"


class InboxState(TextChoices):
    """Where a verified Stripe event stands in the inbox."""

    RECEIVED = "received", "Received"  # not tried yet
    WAITING = "waiting", "Waiting"  # to be tried again
    FAILED = "failed", "Failed"  # attempts used up
    APPLIED = "applied", "Applied"
    IGNORED = "ignored", "Ignored"  # stored, not applied (the outcome says why)


# How the outcome of an event stored but not applied begins; what follows says why.
IGNORED_OUTCOME = "Ignored: "


# Outgoing webhooks ------------------------------------------------------------------------------------------------
class DeliveryStatus(TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"


# Accounts, audit, notifications -----------------------------------------------------------------------------------
class Role(TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    CUSTOM = "custom", "Custom"


class MembershipStatus(TextChoices):
    ACTIVE = "active", "Active"
    # Invited and not yet accepted: holds no permission, signs nobody in, and no API token can be made for it.
    PENDING = "pending", "Invited"


class ActorType(TextChoices):
    USER = "user", "User"
    STRIPE = "stripe", "Stripe"
    SYSTEM = "system", "System"


class NotificationKind(TextChoices):
    CUSTOMER_REFUND_SUCCEEDED = "customer_refund_succeeded", "Customer: refund on its way"
    ADMINS_REFUND_FAILED = "admins_refund_failed", "Billing admins: refund failed"
    APPROVERS_REFUND_AWAITING = "approvers_refund_awaiting", "Approvers: refund awaiting approval"


class NotificationOutcome(TextChoices):
    """What became of one refund email (the task's report, not stored)."""

    SENT = "sent", "Sent"
    NOT_SENT = "not sent", "Not sent"
    NO_RECIPIENTS = "no recipients", "No recipients"
    ALREADY_SENT = "already sent", "Already sent"
    FAILED = "failed", "Failed"


# The classes the bare-value check reads (tests/unit/test_bare_choice_values.py).
ALL = (
    InvoicePaymentMethod,
    InvoiceStatus,
    ChargeStatus,
    ChargeDisplayStatus,
    ChargeSource,
    RefundStatus,
    RefundReason,
    RefundOrigin,
    ReportOrigin,
    RecordedRefundMethod,
    InboxState,
    DeliveryStatus,
    Role,
    MembershipStatus,
    ActorType,
    NotificationKind,
    NotificationOutcome,
)
