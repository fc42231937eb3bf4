"""Team changes made at the same moment: the organization's row lock puts them one after the other, so the
organization always keeps an owner and an invitation link joins once. Real threads, real database."""

import pytest

from flexbill.accounts import invitation_links, team
from flexbill.accounts.models import Membership
from flexbill.audit.services import Actor
from flexbill.errors import Conflict, InvalidInput, PermissionDenied
from threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_owners_demoting_each_other_at_once_leave_exactly_one_owner(org, make_member):
    first, second = make_member(org, "owner"), make_member(org, "owner")
    turns = iter([(first, second), (second, first)])

    def demote_the_other():
        acting, target = next(turns)
        return team.member_change_role(actor=Actor.for_membership(acting), member=target, role="admin")

    results = run_together(demote_the_other, n=2)

    succeeded = [r for r in results if isinstance(r, Membership)]
    refused = [r for r in results if isinstance(r, Conflict | PermissionDenied)]
    assert len(succeeded) == 1 and len(refused) == 1, results
    assert Membership.objects.filter(organization=org, role="owner", status="active").count() == 1


def test_owners_removing_each_other_at_once_leave_exactly_one_owner(org, make_member):
    owners = [make_member(org, "owner") for _ in range(4)]
    turns = iter([(owners[i], owners[(i + 1) % 4]) for i in range(4)] * 2)

    def remove_the_next():
        acting, target = next(turns)
        return team.member_remove(actor=Actor.for_membership(acting), member=target)

    run_together(remove_the_next, n=8)

    assert Membership.objects.filter(organization=org, role="owner", status="active").count() >= 1


def test_one_invitation_link_used_at_once_joins_exactly_once(org, owner):
    links = []
    team.member_invite(
        actor=Actor.for_membership(owner), email="grace@example.com", role="member", accept_url=links.append
    )
    token = links[0]
    assert invitation_links.read_link_token(token)

    results = run_together(lambda: team.invitation_accept(token=token, new_password="a-long-passphrase"), n=4)

    assert sum(isinstance(r, Membership) for r in results) == 1, results
    assert sum(isinstance(r, InvalidInput) for r in results) == 3
