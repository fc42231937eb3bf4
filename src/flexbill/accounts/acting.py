"""The member behind an Actor, for the team, role and token services, whose rules are about the acting member's
role (only owners deal in owners; nobody grants what they do not hold)."""

from flexbill.audit.services import Actor
from flexbill.errors import PermissionDenied

from .models import Membership, MembershipStatus


def acting_member(actor: Actor, *, refusal: str) -> Membership:
    """The actor's active membership in its organization; PermissionDenied(refusal) for any other actor."""
    acting = None
    if actor.membership_id is not None:
        acting = (
            Membership.objects.select_related("user", "organization", "custom_role")
            .filter(pk=actor.membership_id, organization_id=actor.organization_id, status=MembershipStatus.ACTIVE)
            .first()
        )
    if acting is None:
        raise PermissionDenied(refusal)
    return acting
