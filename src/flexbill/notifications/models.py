from django.db import models


class RefundNotification(models.Model):
    """One email about one refund: the unique row is the claim that makes it go out once, however often
    Stripe repeats its events or the task runs."""

    class Kind(models.TextChoices):
        CUSTOMER_REFUND_SUCCEEDED = "customer_refund_succeeded", "Customer: refund on its way"
        ADMINS_REFUND_FAILED = "admins_refund_failed", "Billing admins: refund failed"
        APPROVERS_REFUND_AWAITING = "approvers_refund_awaiting", "Approvers: refund awaiting approval"

    refund = models.ForeignKey("billing.Refund", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["refund", "kind"], name="refund_notification_once")]

    def __str__(self) -> str:
        return f"{self.kind} for refund {self.refund_id}"
