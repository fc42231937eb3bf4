"""A refund batch and its items: one item per charge, each run as an ordinary refund (billing/services/refunds.py)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from flexbill.accounts.models import Membership, Organization
from flexbill.billing.models import Charge, Refund
from flexbill.choices import RefundBatchAmount, RefundBatchItemStatus, RefundBatchStatus, RefundReason


class RefundBatch(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="refund_batches")
    # Part of every item's idempotency key: a batch run again, or resumed after a crash, finds its refunds.
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Whose refunds these are: each item is refunded with this membership's permissions as they are when it runs.
    membership = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    amount_mode = models.CharField(max_length=10, choices=RefundBatchAmount.choices)
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=30, choices=RefundReason.choices)
    note = models.CharField(max_length=1000, blank=True)
    # The request's Idempotency-Key (the API's header, the web form's one-time key) and what it asked: a repeat
    # answers with this batch instead of queuing another (billing/idempotency.py).
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=RefundBatchStatus.choices, default=RefundBatchStatus.QUEUED)
    # The worker running the batch holds it until then; if it dies, another worker resumes the batch after that.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Which run holds the claim: a run hands its token to the run it queues for the rest of the batch.
    claim_token = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(amount_mode=RefundBatchAmount.FULL) & Q(percent__isnull=True))
                | (Q(amount_mode=RefundBatchAmount.PERCENT) & Q(percent__gte=1) & Q(percent__lte=100)),
                name="refund_batch_amount_valid",
            ),
            # Two identical requests racing: the second insert fails and answers with the first one's batch.
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="refund_batch_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-id"], name="refund_batch_org_newest"),
            models.Index(
                fields=["status"], condition=~Q(status=RefundBatchStatus.DONE), name="refund_batch_unfinished"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund batch {self.pk} ({self.status})"


class RefundBatchItem(models.Model):
    batch = models.ForeignKey(RefundBatch, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=20, choices=RefundBatchItemStatus.choices, default=RefundBatchItemStatus.PENDING
    )
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Why the item was refused or failed (the refusal's sentence, or what Stripe said).
    detail = models.CharField(max_length=1000, blank=True)
    # How often a run has started on the item, counted before each try (committed on its own, so a crash counts):
    # an item that keeps ending in an unexpected error is given up after FLEXBILL_REFUND_BATCH_ITEM_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "charge"], name="refund_batch_charge_once"),
            models.UniqueConstraint(fields=["batch", "position"], name="refund_batch_position_once"),
        ]

    def __str__(self) -> str:
        return f"Batch {self.batch_id} charge {self.charge_id} ({self.status})"
