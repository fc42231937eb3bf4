"""Who may grant which role, and the permission tree the role editor shows (accounts/team_rules.py, permissions.py)."""

import itertools

import pytest

from flexbill.accounts.permissions import PERMISSION_TREE, Permission, Role, permission_paths, role_grants
from flexbill.accounts.team_rules import grant_refusal, leaves_no_owner


def test_the_permission_tree_shows_every_permission_exactly_once():
    seen = []

    def walk(group):
        seen.extend(a.permission for a in group.actions)
        for child in group.groups:
            walk(child)

    for area in PERMISSION_TREE:
        walk(area)
    assert sorted(seen) == sorted(Permission) and len(seen) == len(set(seen))
    assert permission_paths()[Permission.CHARGES_REFUND] == "Billing › Charges › Refund charge"
    assert permission_paths()[Permission.SETTINGS_MANAGE] == "Settings › Manage"


SUBSETS = [frozenset(c) for n in range(3) for c in itertools.combinations(sorted(Permission), n)]
ROLES = [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.CUSTOM]


@pytest.mark.parametrize("acting_role", ROLES)
@pytest.mark.parametrize("acting_custom", SUBSETS[:12])
@pytest.mark.parametrize("role", ROLES)
def test_a_role_is_grantable_exactly_when_its_permissions_are_held_and_owner_only_by_owners(
    acting_role, acting_custom, role
):
    acting = role_grants(acting_role, acting_custom)
    for custom in SUBSETS[:12]:
        refusal = grant_refusal(acting_role=acting_role, acting_custom=acting_custom, role=role, custom=custom)
        allowed = (
            Permission.SETTINGS_MANAGE in acting
            and role_grants(role, custom) <= acting
            and (role != Role.OWNER or acting_role == Role.OWNER)
        )
        assert (refusal is None) == allowed, (acting_role, acting_custom, role, custom, refusal)


@pytest.mark.parametrize(
    ("owners", "member", "new_role", "expected"),
    [
        ({1}, 1, Role.ADMIN, True),
        ({1}, 1, None, True),
        ({1}, 1, Role.OWNER, False),
        ({1, 2}, 1, Role.ADMIN, False),
        ({1, 2}, 1, None, False),
        ({1}, 2, None, False),
        (set(), 2, Role.MEMBER, False),
    ],
)
def test_only_the_last_owner_leaving_the_owner_role_leaves_no_owner(owners, member, new_role, expected):
    assert leaves_no_owner(active_owner_ids=owners, member_id=member, new_role=new_role) is expected
