"""Billing domain: customers, invoices, charges, refunds, credit notes. Money is integer minor units."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from flexbill.accounts.models import Organization
from flexbill.choices import (
    IGNORED_OUTCOME,
    ChargeSource,
    ChargeStatus,
    InboxState,
    InvoicePaymentMethod,
    InvoiceStatus,
    RecordedRefundMethod,
    RefundOrigin,
    RefundReason,
    RefundStatus,
)

from . import rules
from .payment_methods import payment_method_label


class Customer(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="customers")
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "name"])]

    def __str__(self) -> str:
        return self.name


class PaymentMethod(models.Model):
    """A payment method saved on the customer in Stripe."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="payment_methods")
    stripe_payment_method_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=40)
    brand = models.CharField(max_length=40, blank=True)
    bank_name = models.CharField(max_length=100, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.label or self.stripe_payment_method_id

    @property
    def label(self) -> str:
        """What people call it: "Visa ···· 4242", "SEPA Direct Debit ···· 3000"."""
        return payment_method_label(type=self.type, brand=self.brand, bank_name=self.bank_name, last4=self.last4)


class Invoice(models.Model):
    # No index of its own: every index of this table leads with the organization (Meta.indexes).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invoices", db_index=False)
    number = models.CharField(max_length=40)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    currency = models.CharField(max_length=3)
    total = models.BigIntegerField()
    payment_method = models.CharField(max_length=20, choices=InvoicePaymentMethod.choices)
    status = models.CharField(max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.AWAITING_PAYMENT)
    issued_on = models.DateField()
    # Derived from charges, refunds and credit notes by services.invoice_refresh; stored for lists and filters.
    amount_paid = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="invoice_number_unique"),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_total_not_negative"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="invoice_paid_not_negative"),
            models.CheckConstraint(condition=Q(amount_refunded__gte=0), name="invoice_refunded_not_negative"),
            # An invoice never shows more refunded than was paid (rules.InvoiceRefunds says what both mean).
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount_paid")), name="invoice_refunded_within_paid"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-id"], name="invoice_org_newest"),
            models.Index(fields=["organization", "status", "payment_method", "-id"], name="invoice_org_filters"),
            models.Index(fields=["organization", "payment_method", "-id"], name="invoice_org_method"),
            models.Index(fields=["organization", "customer", "-id"], name="invoice_org_customer"),
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceNumberSequence(models.Model):
    """The next automatic invoice number of an organization. Invoice creation locks this row, so invoices
    created at the same time take consecutive numbers instead of racing for the same one."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    next_value = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.next_value}"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=500)
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_line_amount_positive")]

    def __str__(self) -> str:
        return self.description


class Charge(models.Model):
    """A payment against an invoice: through Stripe, or recorded from another system."""

    # No index of its own: every index of this table leads with the organization (Meta.indexes).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="charges", db_index=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="charges")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=12, choices=ChargeSource.choices)
    # What the payment itself did (pending, success, failed); `status` adds refunds on top of it.
    payment_status = models.CharField(max_length=10, choices=ChargeStatus.choices)
    status = models.CharField(max_length=10, choices=ChargeStatus.choices)
    marked_refunded_at = models.DateTimeField(null=True, blank=True)
    reference = models.CharField(max_length=255, blank=True)
    payment_method = models.ForeignKey(PaymentMethod, null=True, blank=True, on_delete=models.SET_NULL)
    payment_method_type = models.CharField(max_length=40, blank=True)
    # What the payment was made with, as Stripe reported it (the charge's payment_method_details, or the payment
    # method charged): kept on the charge, so its label stays right if the saved payment method changes or goes.
    payment_method_brand = models.CharField(max_length=40, blank=True)
    payment_method_bank = models.CharField(max_length=100, blank=True)
    payment_method_last4 = models.CharField(max_length=4, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_charge_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    charged_at = models.DateTimeField()
    # Both derived from the refund rows (services.charge_refresh) inside the transaction that changes them.
    # amount_reserved counts every refund that is not failed or canceled: the database refuses it above amount,
    # which is what keeps concurrent refund requests from ever adding up to more than the charge.
    amount_refunded = models.BigIntegerField(default=0)
    amount_reserved = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="charge_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_reserved__gte=0) & Q(amount_reserved__lte=F("amount")),
                name="charge_refunds_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("amount_reserved")),
                name="charge_refunded_within_reserved",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="charge_org_status")]

    def __str__(self) -> str:
        return f"Charge {self.pk} ({self.amount} {self.currency})"

    @property
    def payment_method_label(self) -> str:
        """What the payment was made with, for people: "Visa ···· 4242"; "" for a payment recorded from elsewhere."""
        return payment_method_label(
            type=self.payment_method_type,
            brand=self.payment_method_brand,
            bank_name=self.payment_method_bank,
            last4=self.payment_method_last4,
        )

    @property
    def amount_refund_pending(self) -> int:
        return self.amount_reserved - self.amount_refunded

    @property
    def refundable_amount(self) -> int:
        return rules.refundable_amount(self.amount, self.amount_reserved)


class Refund(models.Model):
    # No index of its own: every index of this table leads with the organization (Meta.indexes).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="refunds", db_index=False)
    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, related_name="refunds")
    # Sent to Stripe as metadata and inside the idempotency key, so a refund flexbill issued is recognised
    # when Stripe reports it back, even if flexbill crashed before storing Stripe's id.
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=30, choices=RefundReason.choices, default=RefundReason.REQUESTED_BY_CUSTOMER)
    note = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=20, choices=RefundStatus.choices, default=RefundStatus.REQUESTED)
    failure_reason = models.CharField(max_length=500, blank=True)
    origin = models.CharField(max_length=10, choices=RefundOrigin.choices)
    stripe_refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    # When the Stripe state stored here was read from Stripe: an older read never overwrites it.
    stripe_synced_at = models.DateTimeField(null=True, blank=True)
    # `credit_note: true` on an app refund: the credit note is issued once Stripe has accepted the refund.
    credit_note_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Who approved or rejected a refund that waited for approval, and when (an expiry leaves decided_by empty).
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(fields=["organization", "idempotency_key"], name="refund_idempotency_key_unique"),
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="refund_org_status"),
            models.Index(fields=["organization", "-id"], name="refund_org_newest"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.pk} ({self.amount} {self.currency}, {self.status})"

    @property
    def sent_since(self):
        """When flexbill asked Stripe for this refund: at its approval if it waited for one, else at its creation."""
        return self.decided_at or self.created_at


class CreditNote(models.Model):
    """Credit against an invoice; records money returned outside Stripe, or accompanies a Stripe refund."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=40)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=500)
    refund_method = models.CharField(max_length=40, blank=True, choices=RecordedRefundMethod.choices)
    refund_reference = models.CharField(max_length=255, blank=True)
    refunded_on = models.DateField(null=True, blank=True)
    refund = models.OneToOneField(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_note")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_note_amount_positive"),
            models.UniqueConstraint(fields=["organization", "number"], name="credit_note_number_unique"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def records_outside_refund(self) -> bool:
        """Money returned outside Stripe: counts toward the invoice's amount refunded."""
        return bool(self.refund_method) and self.refund_id is None


class WebhookEvent(models.Model):
    """Every delivery to the Stripe webhook endpoint, and the inbox of verified Stripe events.

    A verified event is stored once per organization and Stripe event id, whole, and acknowledged at once; the
    worker applies it later (processed_at), retrying with backoff what it cannot apply yet (attempts,
    next_attempt_at, last_error). A delivery that fails verification (anyone can send it) keeps a bounded
    summary: the first bytes of its body, its size and its SHA-256.
    """

    # No index of its own: webhook_org_event leads with the organization.
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, db_index=False)
    org_slug = models.CharField(max_length=100)
    event_id = models.CharField(max_length=255, null=True, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    body_size = models.PositiveIntegerField(default=0)
    body_sha256 = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    verified = models.BooleanField(default=False)
    # Applied, or stored and ignored (outcome says which and why).
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=500, blank=True)
    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When the worker may try again; None after a failure once the attempts are used up (the event failed).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker that claimed the event holds it until then; if it dies, another takes the event after that.
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One verified row per Stripe event: a redelivery is acknowledged and changes nothing.
            models.UniqueConstraint(
                fields=["organization", "event_id"], condition=Q(verified=True), name="webhook_event_once"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "event_id"], name="webhook_org_event"),
            models.Index(fields=["verified", "received_at"], name="webhook_verified_received"),
            models.Index(fields=["id"], condition=Q(verified=True, processed_at__isnull=True), name="inbox_unapplied"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type or 'unverified'} {self.event_id or ''} @ {self.received_at:%Y-%m-%d %H:%M:%S}"

    @property
    def state(self) -> InboxState:
        if self.processed_at is not None:
            return InboxState.IGNORED if self.outcome.startswith(IGNORED_OUTCOME) else InboxState.APPLIED
        if self.attempts == 0:
            return InboxState.RECEIVED
        return InboxState.WAITING if self.next_attempt_at is not None else InboxState.FAILED
