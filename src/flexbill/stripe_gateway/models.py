from django.db import models
from django.db.models import Q

from flexbill.accounts.models import Organization


class WebhookEvent(models.Model):
    """Every delivery to the Stripe webhook endpoint. A verified one is kept whole; one that fails verification
    (anyone can send it) keeps a bounded summary: the first bytes of its body, its size and its SHA-256."""

    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE)
    org_slug = models.CharField(max_length=100)
    event_id = models.CharField(max_length=255, null=True, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    body_size = models.PositiveIntegerField(default=0)
    body_sha256 = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    verified = models.BooleanField(default=False)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            # One processed delivery per Stripe event: a redelivery finds it and changes nothing.
            models.UniqueConstraint(
                fields=["organization", "event_id"],
                condition=Q(processed_at__isnull=False),
                name="webhook_event_processed_once",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "event_id"], name="webhook_org_event"),
            models.Index(fields=["verified", "received_at"], name="webhook_verified_received"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type or 'unverified'} {self.event_id or ''} @ {self.received_at:%Y-%m-%d %H:%M:%S}"
