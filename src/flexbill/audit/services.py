from dataclasses import dataclass, field

from flexbill.accounts.permissions import Permission, role_grants
from flexbill.billing.refusals import Refusal
from flexbill.bulk_sql import rows_insert
from flexbill.errors import PermissionDenied

from .models import ActorType, AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who changes something, and what they may do: a member of one organization (with the permissions of their
    role), Stripe (webhooks, reconcile) or flexbill itself. Every service that changes something takes one and
    checks it (`actor.require`); the API and the UI only ask `actor.may` to decide what to show."""

    type: str
    label: str
    user_id: int | None = None
    # A member acts within one organization only; Stripe and flexbill act for any (None).
    organization_id: int | None = None
    membership_id: int | None = None
    role: str = ""  # the member's role (owner, admin, member, custom); some rules are about owners only
    permissions: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def for_user(cls, user) -> "Actor":
        """A person acting on their own account (their password, accepting an invitation): holds no permission."""
        return cls(type=ActorType.USER, label=user.email or user.get_username(), user_id=user.pk)

    @classmethod
    def for_membership(cls, membership) -> "Actor":
        """A member acting in their organization, with what their role grants (nothing while only invited)."""
        custom = membership.custom_role.permissions if membership.custom_role_id else ()
        granted = role_grants(membership.role, frozenset(custom)) if membership.is_active else frozenset()
        user = membership.user
        return cls(
            type=ActorType.USER,
            label=user.email or user.get_username(),
            user_id=user.pk,
            organization_id=membership.organization_id,
            membership_id=membership.pk,
            role=membership.role,
            permissions=granted if user.is_active else frozenset(),
        )

    def may(self, permission: Permission | str, *, organization_id: int | None = None) -> bool:
        if organization_id is not None and self.organization_id not in (None, organization_id):
            return False
        return str(permission) in self.permissions

    def require(
        self, permission: Permission | str, *, organization_id: int | None = None, refusal: str | None = None
    ) -> None:
        """Refuses (PermissionDenied, with `refusal` or the common sentence) unless the actor holds the permission
        in the organization concerned."""
        if not self.may(permission, organization_id=organization_id):
            raise PermissionDenied(refusal or Refusal.PERMISSION_DENIED.sentence)


# Stripe's notifications and reconciliation, and flexbill's own jobs, act for every organization.
STRIPE = Actor(type=ActorType.STRIPE, label="stripe", permissions=frozenset(Permission))
SYSTEM = Actor(type=ActorType.SYSTEM, label="system", permissions=frozenset(Permission))


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
    return AuditEvent.unsaved(
        organization_id=organization_id,
        actor_type=actor.type,
        actor_user_id=actor.user_id,
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
