"""Who may give which role, and when a team change would leave an organization without an owner. Pure: no ORM."""

from .permissions import Permission, Role, permission_paths, role_grants

ONLY_OWNERS_MAKE_OWNERS = "Only an owner can make someone an owner or change an owner's role."
NEEDS_SETTINGS = "Your role does not allow you to manage the team or roles (Settings › Manage)."
LAST_OWNER = "The organization needs at least one owner: make someone else an owner first."


def settings_refusal(acting_role: str, acting_custom: frozenset[str]) -> str | None:
    if Permission.SETTINGS_MANAGE not in role_grants(acting_role, acting_custom):
        return NEEDS_SETTINGS
    return None


def grant_refusal(
    *, acting_role: str, acting_custom: frozenset[str], role: str, custom: frozenset[str] = frozenset()
) -> str | None:
    """Why the acting member may not give (or take away) this role, or None if they may.

    Nobody grants a permission they do not hold, and only owners deal in the owner role. The same test applies to
    the role someone has now before it is changed or they are removed, so an admin cannot demote or remove an owner
    and a custom role cannot touch anyone who holds more than it does."""
    refusal = settings_refusal(acting_role, acting_custom)
    if refusal:
        return refusal
    if role == Role.OWNER and acting_role != Role.OWNER:
        return ONLY_OWNERS_MAKE_OWNERS
    missing = role_grants(role, custom) - role_grants(acting_role, acting_custom)
    if missing:
        paths = permission_paths()
        return "You cannot grant permissions you do not hold: " + ", ".join(sorted(paths[p] for p in missing)) + "."
    return None


def permissions_refusal(*, acting_role: str, acting_custom: frozenset[str], permissions: frozenset[str]) -> str | None:
    """Why the acting member may not put these permissions in (or take them out of) a custom role."""
    return grant_refusal(acting_role=acting_role, acting_custom=acting_custom, role=Role.CUSTOM, custom=permissions)


def leaves_no_owner(*, active_owner_ids: set[int], member_id: int, new_role: str | None) -> bool:
    """Would moving this member to new_role (None: removing them) leave no active owner?"""
    if member_id not in active_owner_ids or new_role == Role.OWNER:
        return False
    return len(active_owner_ids - {member_id}) == 0
