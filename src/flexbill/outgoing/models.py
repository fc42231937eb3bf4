import secrets
import uuid

from django.db import models

from flexbill.accounts.models import Organization
from flexbill.choices import DeliveryStatus
from flexbill.encryption.fields import EncryptedTextField
from flexbill.outbox.events import EVENT_TYPES  # noqa: F401 - the types an endpoint may ask for


class WebhookEndpoint(models.Model):
    """An integrator's URL that receives flexbill's events, signed with the endpoint's own secret."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    # Encrypted at rest (FLEXBILL_ENCRYPTION_KEYS); read here as plain text to sign deliveries.
    secret = EncryptedTextField(editable=False)
    event_types = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url

    @staticmethod
    def generate_secret() -> str:
        return "fbwh_" + secrets.token_urlsafe(32)


class WebhookDelivery(models.Model):
    Status = DeliveryStatus

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_newest"),
            models.Index(fields=["endpoint", "event_id"], name="delivery_endpoint_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.endpoint_id} ({self.status})"
