from django.conf import settings
from django.db import models

from flexbill.accounts.models import Organization
from flexbill.choices import ActorType


class AuditEvent(models.Model):
    """Append-only record of a change of money or status: who, what, on which object, before and after."""

    # No index of its own: every index of this table leads with the organization (Meta.indexes).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_events", db_index=False
    )
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=255)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=30)
    object_id = models.CharField(max_length=64)
    invoice_id = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.CharField(max_length=1000, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "object_type", "object_id"], name="audit_org_object"),
            models.Index(fields=["organization", "invoice_id"], name="audit_org_invoice"),
            models.Index(fields=["organization", "-id"], name="audit_org_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")

    @classmethod
    def unsaved(
        cls,
        *,
        organization_id,
        actor_type,
        actor_user_id,
        actor_label,
        action,
        object_type,
        object_id,
        invoice_id,
        before,
        after,
        message,
    ):
        """A new event, not yet written; `at` is set when it is written. Built from its values in column order, as
        OutboxEvent.unsaved is (tests/unit/test_unsaved_rows.py fails if the columns change without this)."""
        return cls(
            None,
            organization_id,
            actor_type,
            actor_user_id,
            actor_label,
            action,
            object_type,
            object_id,
            invoice_id,
            before,
            after,
            message,
            None,
        )
