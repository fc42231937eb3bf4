"""Named permissions, the tree they are shown in, and what each built-in role holds. Pure data and pure functions:
no ORM."""

from dataclasses import dataclass
from enum import StrEnum

from flexbill.choices import Role


class Permission(StrEnum):
    INVOICES_VIEW = "billing.invoices.view"
    INVOICES_MANAGE = "billing.invoices.manage"
    CHARGES_REFUND = "billing.charges.refund"
    CHARGES_CHANGE_STATUS = "billing.charges.change_status"
    CHARGES_DELETE = "billing.charges.delete"
    REFUNDS_APPROVE = "billing.refunds.approve"
    CREDIT_NOTES_CREATE = "billing.credit_notes.create"
    AUDIT_VIEW = "audit.events.view"
    SETTINGS_MANAGE = "settings.manage"


PERMISSION_LABELS = {
    Permission.INVOICES_VIEW: "View invoices, charges and refunds",
    Permission.INVOICES_MANAGE: "Create customers, invoices and charges",
    Permission.CHARGES_REFUND: "Send refunds through Stripe",
    Permission.CHARGES_CHANGE_STATUS: "Change a charge's status (no money moves)",
    Permission.CHARGES_DELETE: "Delete a charge (marks it refunded, no money moves)",
    Permission.REFUNDS_APPROVE: "Approve or reject another person's refund that waits for approval",
    Permission.CREDIT_NOTES_CREATE: "Issue credit notes",
    Permission.AUDIT_VIEW: "Read the audit trail",
    Permission.SETTINGS_MANAGE: "Manage the team, roles and the organization's settings",
}


@dataclass(frozen=True)
class PermissionAction:
    permission: Permission
    label: str


@dataclass(frozen=True)
class PermissionGroup:
    """An area (Billing) or an object within it (Charges); `label` is empty for actions that sit on the area."""

    label: str
    actions: tuple[PermissionAction, ...] = ()
    groups: tuple["PermissionGroup", ...] = ()


# Areas › objects › actions, as the role editor shows them ("Billing › Charges › Refund charge"). Every Permission
# appears exactly once (tests/unit/test_permission_tree.py).
PERMISSION_TREE: tuple[PermissionGroup, ...] = (
    PermissionGroup(
        "Billing",
        groups=(
            PermissionGroup(
                "Charges",
                (
                    PermissionAction(Permission.CHARGES_REFUND, "Refund charge"),
                    PermissionAction(Permission.CHARGES_CHANGE_STATUS, "Change status"),
                    PermissionAction(Permission.CHARGES_DELETE, "Delete"),
                ),
            ),
            PermissionGroup("Credit notes", (PermissionAction(Permission.CREDIT_NOTES_CREATE, "Create"),)),
            PermissionGroup("Refunds", (PermissionAction(Permission.REFUNDS_APPROVE, "Approve"),)),
            PermissionGroup(
                "Invoices",
                (
                    PermissionAction(Permission.INVOICES_VIEW, "View"),
                    PermissionAction(Permission.INVOICES_MANAGE, "Manage"),
                ),
            ),
        ),
    ),
    PermissionGroup("Audit", (PermissionAction(Permission.AUDIT_VIEW, "View"),)),
    PermissionGroup("Settings", (PermissionAction(Permission.SETTINGS_MANAGE, "Manage"),)),
)


def permission_paths() -> dict[str, str]:
    """permission -> its place in the tree, "Billing › Charges › Refund charge"."""
    paths: dict[str, str] = {}

    def walk(group: PermissionGroup, trail: tuple[str, ...]) -> None:
        here = (*trail, group.label) if group.label else trail
        for action in group.actions:
            paths[str(action.permission)] = " › ".join((*here, action.label))
        for child in group.groups:
            walk(child, here)

    for area in PERMISSION_TREE:
        walk(area, ())
    return paths


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


def role_grants(role: str, custom_permissions: frozenset[str] | set[str] = frozenset()) -> frozenset[str]:
    """Every permission a holder of this role has."""
    granted = ROLE_PERMISSIONS[Role(role)]
    return granted | frozenset(custom_permissions) if role == Role.CUSTOM else granted
