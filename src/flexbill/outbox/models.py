import uuid

from django.db import models
from django.db.models import Q

from flexbill.accounts.models import Organization


class OutboxEvent(models.Model):
    """What happened, said by the service that made it happen, in the same transaction as the change.

    The worker turns each row into the e-mails and outgoing webhook deliveries it calls for (outbox/dispatch.py).
    `event_id` is the public event's id: every delivery of the event carries it, retries and repeats included,
    so a receiver can drop a repeat. `payload` is the public event (outbox/events.py, schema/v1.schema.json)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40)
    refund_id = models.BigIntegerField(null=True, blank=True)  # the refund an e-mail is about, if any
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["id"], condition=Q(processed_at__isnull=True), name="outbox_unprocessed"),
            models.Index(fields=["processed_at"], condition=Q(processed_at__isnull=False), name="outbox_processed"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

    @classmethod
    def unsaved(cls, *, organization_id: int, event_id, type: str, refund_id: int | None, payload: dict, created_at):
        """A new row, not yet written. Built from its values in column order: Django's construction by keyword
        costs three times as much, and the set-based apply path builds thousands of these per batch (profiled).
        tests/unit/test_unsaved_rows.py fails if the columns change without this."""
        return cls(None, organization_id, event_id, type, refund_id, payload, created_at, 0, None, None, None, "")
