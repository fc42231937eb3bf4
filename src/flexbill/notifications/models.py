from django.db import models

from flexbill.choices import NotificationKind


class RefundNotification(models.Model):
    """One email about one refund: the unique row is the claim that makes it go out once, however often
    Stripe repeats its events or the task runs."""

    Kind = NotificationKind

    refund = models.ForeignKey("billing.Refund", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["refund", "kind"], name="refund_notification_once")]

    def __str__(self) -> str:
        return f"{self.kind} for refund {self.refund_id}"
