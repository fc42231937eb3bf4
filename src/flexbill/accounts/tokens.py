"""Personal API tokens: each person creates, names and revokes their own. Only a token's SHA-256 is stored."""

from django.db import transaction
from django.utils import timezone

from flexbill.audit.services import Actor, audit_record
from flexbill.errors import Conflict

from .acting import acting_member
from .api_callers import access_changed
from .models import ApiToken, hash_token
from .names import name_clean

NAME_MAX = 100
NOT_A_MEMBER = "Accept the invitation before creating API tokens."


def api_token_name_clean(name) -> str:
    return name_clean(
        name,
        what="A token's name",
        limit=NAME_MAX,
        required='Name the token after what will use it, e.g. "Accounting export".',
    )


def api_token_issue(*, actor: Actor, name: str) -> tuple[ApiToken, str]:
    """-> (the token, its raw value, to be shown this once). Each member makes their own; no permission needed."""
    membership = acting_member(actor, refusal=NOT_A_MEMBER)
    clean = api_token_name_clean(name)
    raw = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(membership=membership, name=clean, token_hash=hash_token(raw), prefix=raw[:10])
        audit_record(
            organization_id=membership.organization_id,
            actor=Actor.for_user(membership.user),
            action="api_token.created",
            obj=token,
            after={"name": token.name, "prefix": token.prefix},
        )
    return token, raw


def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke one of the actor's own tokens."""
    membership = acting_member(actor, refusal=NOT_A_MEMBER)
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk, membership=membership)
        if token.revoked_at is not None:
            raise Conflict("This token was already revoked.", code="already_revoked")
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        access_changed(organization_id=membership.organization_id)
        audit_record(
            organization_id=membership.organization_id,
            actor=Actor.for_user(membership.user),
            action="api_token.revoked",
            obj=token,
            before={"name": token.name, "prefix": token.prefix},
            after={"revoked": True},
        )
    return token
