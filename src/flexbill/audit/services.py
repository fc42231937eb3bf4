from dataclasses import dataclass

from flexbill.bulk_sql import rows_insert

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


def audit_event(
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
    """An unsaved audit event, for audit_record_many."""
    return AuditEvent(
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


def audit_record_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """Insert many audit events in one statement. The audit trail is for people: machines are told through the
    outbox (flexbill/outbox), never by watching these rows."""
    if not events:
        return []
    rows_insert(AuditEvent, events)
    return events


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
    event = audit_event(
        organization_id=organization_id,
        actor=actor,
        action=action,
        obj=obj,
        before=before,
        after=after,
        message=message,
        invoice_id=invoice_id,
    )
    event.save(force_insert=True)
    return event
