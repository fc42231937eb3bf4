from dataclasses import dataclass

from .models import ActorType, AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who changed something: a user, Stripe (webhooks, reconcile) or flexbill itself."""

    type: str
    label: str
    user: object = None

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(type=ActorType.USER, label=user.email or user.get_username(), user=user)


STRIPE = Actor(type=ActorType.STRIPE, label="stripe")
SYSTEM = Actor(type=ActorType.SYSTEM, label="system")


def audit_record(
    *,
    organization_id: int,
    actor: Actor,
    action: str,
    obj,
    before: dict | None = None,
    after: dict | None = None,
    message: str = "",
    invoice_id: int | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        organization_id=organization_id,
        actor_type=actor.type,
        actor_user=actor.user,
        actor_label=actor.label[:255],
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        invoice_id=invoice_id,
        before=before,
        after=after,
        message=message[:1000],
    )
