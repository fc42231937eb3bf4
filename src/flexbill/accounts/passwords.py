"""Password changes are audited in every organization the person is an active member of."""

from django.db import transaction

from flexbill.audit.services import Actor, audit_record

from .models import Membership, MembershipStatus


def password_changed_record(*, user, how: str) -> None:
    """how: "changed" (signed in, knowing the old password) or "reset" (through an e-mailed link)."""
    with transaction.atomic():
        for membership in Membership.objects.filter(user=user, status=MembershipStatus.ACTIVE):
            audit_record(
                organization_id=membership.organization_id,
                actor=Actor.for_user(user),
                action=f"user.password_{how}",
                obj=membership,
                message=f"{user.email} {'changed' if how == 'changed' else 'reset'} their password.",
            )
