"""Writes for custom roles: create, rename, change permissions, delete.

Each takes the acting membership and checks there that it holds the settings permission and every permission it
puts in or takes out of a role (accounts/team_rules.py). Role names are unique per organization."""

from django.db import IntegrityError, transaction

from flexbill.audit.services import SYSTEM, Actor, audit_record
from flexbill.errors import Conflict, InvalidInput, NotFound, PermissionDenied

from . import team_rules as rules
from .acting import acting_member
from .api_callers import access_changed
from .models import CustomRole, Membership, Organization
from .names import name_clean
from .permissions import Permission
from .preferences import approvers_before_change, approvers_kept
from .selectors import role_holders

NAME_MAX = 100
HOLDERS_SHOWN = 10


def role_name_clean(name) -> str:
    return name_clean(name, what="A role's name", limit=NAME_MAX, required="A role needs a name.")


def role_permissions_clean(permissions) -> list[str]:
    if not isinstance(permissions, list | tuple | set | frozenset) or not all(isinstance(p, str) for p in permissions):
        raise InvalidInput("permissions must be a list of permission names.", code="unknown_permission")
    known = {p.value for p in Permission}
    unknown = sorted(set(permissions) - known)
    if unknown:
        raise InvalidInput(
            f"Unknown permission {unknown[0][:100]!r}. Known: {', '.join(sorted(known))}.", code="unknown_permission"
        )
    return sorted(set(permissions))


def _acting(actor: Actor) -> Membership:
    actor.require(Permission.SETTINGS_MANAGE, refusal=rules.NEEDS_SETTINGS)
    return acting_member(actor, refusal=rules.NEEDS_SETTINGS)


def _fresh(acting: Membership) -> Membership:
    """The acting membership as it is now (read after the organization's lock), not as the request began."""
    fresh = Membership.objects.select_related("user", "organization", "custom_role").filter(pk=acting.pk).first()
    if fresh is None or not fresh.is_active:
        raise PermissionDenied(rules.NEEDS_SETTINGS)
    return fresh


def _require(acting: Membership, permissions) -> None:
    custom = frozenset(acting.custom_role.permissions) if acting.custom_role else frozenset()
    refusal = rules.settings_refusal(acting.role, custom) or rules.permissions_refusal(
        acting_role=acting.role, acting_custom=custom, permissions=frozenset(permissions)
    )
    if refusal or not acting.is_active:
        raise PermissionDenied(refusal or rules.NEEDS_SETTINGS)


def _name_taken(organization: Organization, name: str, *, other_than: int | None = None) -> None:
    taken = CustomRole.objects.filter(organization=organization, name__iexact=name)
    if other_than is not None:
        taken = taken.exclude(pk=other_than)
    if taken.exists():
        raise Conflict(f"A role named {name!r} already exists in this organization.", code="name_taken")


def _state(role: CustomRole) -> dict:
    return {"name": role.name, "permissions": list(role.permissions)}


def _insert(
    *, organization: Organization, name: str, permissions: list[str], actor: Actor, acting: Membership | None = None
) -> CustomRole:
    try:
        with transaction.atomic():
            Organization.objects.select_for_update().filter(pk=organization.pk).first()
            if acting is not None:
                _require(_fresh(acting), permissions)
            _name_taken(organization, name)
            role = CustomRole.objects.create(organization=organization, name=name, permissions=permissions)
            audit_record(
                organization_id=organization.pk, actor=actor, action="role.created", obj=role, after=_state(role)
            )
            return role
    except IntegrityError as exc:
        raise Conflict(f"A role named {name!r} already exists in this organization.", code="name_taken") from exc


def role_create(*, actor: Actor, name: str, permissions: list[str]) -> CustomRole:
    acting = _acting(actor)
    clean = role_permissions_clean(permissions)
    _require(acting, clean)
    return _insert(
        organization=acting.organization,
        name=role_name_clean(name),
        permissions=clean,
        actor=Actor.for_user(acting.user),
        acting=acting,
    )


def role_create_for_setup(*, organization: Organization, name: str, permissions: list[str]) -> CustomRole:
    """For the command line and the demo, which act as the platform rather than as a member."""
    return _insert(
        organization=organization,
        name=role_name_clean(name),
        permissions=role_permissions_clean(permissions),
        actor=SYSTEM,
    )


def role_update(
    *, actor: Actor, role: CustomRole, name: str | None = None, permissions: list[str] | None = None
) -> CustomRole:
    """Rename a role or change its permissions; its holders have the new permissions from their next request."""
    acting = _acting(actor)
    new_name = role_name_clean(name) if name is not None else None
    new_permissions = role_permissions_clean(permissions) if permissions is not None else None
    try:
        with transaction.atomic():
            Organization.objects.select_for_update().filter(pk=acting.organization_id).first()
            approvers = approvers_before_change(organization_id=acting.organization_id)
            role = (
                CustomRole.objects.select_for_update()
                .filter(organization_id=acting.organization_id, pk=role.pk)
                .first()
            )
            if role is None:
                raise NotFound("No such role in this organization.")
            # Taking a permission out of a role is as much a grant decision as putting one in.
            _require(acting, set(role.permissions) | set(new_permissions or []))
            before = _state(role)
            if new_name is not None and new_name != role.name:
                _name_taken(acting.organization, new_name, other_than=role.pk)
                role.name = new_name
            if new_permissions is not None:
                role.permissions = new_permissions
            role.save(update_fields=["name", "permissions"])
            access_changed(organization_id=acting.organization_id)
            approvers_kept(organization_id=acting.organization_id, before=approvers)
            if _state(role) != before:
                audit_record(
                    organization_id=acting.organization_id,
                    actor=Actor.for_user(acting.user),
                    action="role.updated",
                    obj=role,
                    before=before,
                    after=_state(role),
                )
            return role
    except IntegrityError as exc:
        raise Conflict(f"A role named {new_name!r} already exists in this organization.", code="name_taken") from exc


def role_delete(*, actor: Actor, role: CustomRole) -> None:
    """Delete a role nobody holds; while someone does (invited people too) it is a 409 naming them."""
    acting = _acting(actor)
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=acting.organization_id).first()
        acting = _fresh(acting)
        role = CustomRole.objects.select_for_update().filter(organization_id=acting.organization_id, pk=role.pk).first()
        if role is None:
            raise NotFound("No such role in this organization.")
        _require(acting, role.permissions)
        holders = role_holders(role=role)
        if holders:
            shown = ", ".join(holders[:HOLDERS_SHOWN])
            more = f" and {len(holders) - HOLDERS_SHOWN} more" if len(holders) > HOLDERS_SHOWN else ""
            raise Conflict(
                f"{role.name} is held by {shown}{more}. Give them another role before deleting it.", code="role_in_use"
            )
        audit_record(
            organization_id=acting.organization_id,
            actor=Actor.for_user(acting.user),
            action="role.deleted",
            obj=role,
            before=_state(role),
        )
        role.delete()
