"""Named permissions and what each built-in role holds. Pure data and one pure function: no ORM."""

from enum import StrEnum


class Permission(StrEnum):
    INVOICES_VIEW = "billing.invoices.view"
    INVOICES_MANAGE = "billing.invoices.manage"
    CHARGES_REFUND = "billing.charges.refund"
    CHARGES_CHANGE_STATUS = "billing.charges.change_status"
    CHARGES_DELETE = "billing.charges.delete"
    CREDIT_NOTES_CREATE = "billing.credit_notes.create"
    AUDIT_VIEW = "audit.events.view"
    SETTINGS_MANAGE = "settings.manage"


PERMISSION_LABELS = {
    Permission.INVOICES_VIEW: "View invoices, charges and refunds",
    Permission.INVOICES_MANAGE: "Create customers, invoices and charges",
    Permission.CHARGES_REFUND: "Send refunds through Stripe",
    Permission.CHARGES_CHANGE_STATUS: "Change a charge's status (no money moves)",
    Permission.CHARGES_DELETE: "Delete a charge (marks it refunded, no money moves)",
    Permission.CREDIT_NOTES_CREATE: "Issue credit notes",
    Permission.AUDIT_VIEW: "Read the audit trail",
    Permission.SETTINGS_MANAGE: "Manage the team, roles and the organization's settings",
}


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    CUSTOM = "custom"


# Every role may look at invoices; owners and admins may do everything (as in Flex). A custom role holds
# exactly the permissions it was given, plus viewing.
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission),
    Role.MEMBER: frozenset({Permission.INVOICES_VIEW}),
    Role.CUSTOM: frozenset({Permission.INVOICES_VIEW}),
}


def role_permits(role: str, custom_permissions: frozenset[str] | set[str], permission: str) -> bool:
    granted = ROLE_PERMISSIONS[Role(role)]
    if role == Role.CUSTOM:
        granted = granted | frozenset(custom_permissions)
    return permission in granted
