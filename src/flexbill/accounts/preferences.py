"""Organization preferences staff holding settings.manage change in Settings → Organization or the API: the name,
the default currency of new invoices, the locale money is typed and shown in, and refund e-mails; owners also set
the refund approval threshold. Refund sync is not among them: only platform staff turn it off (Django admin)."""

from django.db import transaction

from flexbill.audit.services import Actor, audit_record
from flexbill.billing.approval_rules import (
    MIN_APPROVERS,
    approvers_kept_detail,
    approvers_missing_detail,
    threshold_refusal,
)
from flexbill.errors import Conflict, InvalidInput, PermissionDenied

from .api_callers import access_changed
from .models import Membership, MembershipStatus, Organization
from .organization_rules import known_currency, known_locale, organization_name
from .permissions import Permission, Role

PREFERENCES = ("name", "default_currency", "locale", "refund_emails_enabled", "refund_approval_threshold")
# Preferences that null clears (elsewhere null means "leave as it is").
NULLABLE = ("refund_approval_threshold",)
NOT_ALLOWED = "Your role does not allow you to change the organization's settings."
OWNERS_ONLY = "Only owners change the refund approval threshold."


def organization_preferences_update(*, actor: Actor, **changes) -> Organization:
    """Change any of PREFERENCES (others are refused); one audit event lists each field changed, before and after."""
    actor.require(Permission.SETTINGS_MANAGE, refusal=NOT_ALLOWED)
    unknown = sorted(set(changes) - set(PREFERENCES))
    if unknown:
        raise InvalidInput(f"{unknown[0]} cannot be changed here.", code="not_a_preference")
    if "refund_approval_threshold" in changes and actor.role != Role.OWNER:
        raise PermissionDenied(OWNERS_ONLY)
    cleaned = {
        field: _clean(field, value) for field, value in changes.items() if value is not None or field in NULLABLE
    }
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
        changed = {field: value for field, value in cleaned.items() if getattr(organization, field) != value}
        if not changed:
            return organization
        if changed.get("refund_approval_threshold") is not None:
            approvers = approvers_count(organization_id=organization.pk)
            if approvers < MIN_APPROVERS:
                raise Conflict(approvers_missing_detail(approvers), code="approvers_missing")
        before = {field: getattr(organization, field) for field in changed}
        for field, value in changed.items():
            setattr(organization, field, value)
        organization.save(update_fields=list(changed))
        access_changed(organization_id=organization.pk)
        audit_record(
            organization_id=organization.pk,
            actor=actor,
            action="organization.preferences_changed",
            obj=organization,
            before=before,
            after=changed,
            message="Changed " + ", ".join(field.replace("_", " ") for field in changed) + ".",
        )
    return organization


def _clean(field: str, value):
    if field == "name":
        return organization_name(value)
    if field == "default_currency":
        return known_currency(value)
    if field == "locale":
        return known_locale(value)
    if field == "refund_approval_threshold":
        refusal = threshold_refusal(value)
        if refusal:
            raise InvalidInput(refusal, code="threshold_invalid")
        return value
    if not isinstance(value, bool):
        raise InvalidInput("refund_emails_enabled is true or false.", code="invalid")
    return value


def approvers_before_change(*, organization_id: int) -> int | None:
    """How many members may approve refunds before a change of roles or members (None while approvals are off), for
    approvers_kept after it. Call under the organization's lock."""
    organization = Organization.objects.only("pk", "refund_approval_threshold").get(pk=organization_id)
    return None if organization.refund_approval_threshold is None else approvers_count(organization_id=organization_id)


def approvers_kept(*, organization_id: int, before: int | None) -> None:
    """Refuse (409 approvers_missing) a change that takes an organization whose refunds need approval below
    MIN_APPROVERS members who may approve: refunds waiting for a second person would wait for nobody. A change that
    takes none away (or adds one) passes, even where fewer are left already. Call inside the change's transaction,
    after making it: raising undoes it."""
    if before is None:
        return
    after = approvers_count(organization_id=organization_id)
    if after < MIN_APPROVERS and after < before:
        raise Conflict(approvers_kept_detail(after), code="approvers_missing")


def approvers_count(*, organization_id: int) -> int:
    """Active members who may approve refunds (invitations not yet accepted hold no permission)."""
    active = Membership.objects.filter(organization_id=organization_id, status=MembershipStatus.ACTIVE)
    memberships = active.select_related("custom_role")
    return sum(1 for m in memberships if m.has_permission(Permission.REFUNDS_APPROVE))
