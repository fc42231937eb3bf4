from django.utils import timezone

from flexbill.errors import NotFound

from .models import ApiToken, Membership, Organization, hash_token


def organization_get(*, slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise NotFound(f"No organization with slug {slug!r}.")
    return org


def membership_get(*, organization: Organization, email: str) -> Membership:
    membership = (
        Membership.objects.select_related("user", "organization", "custom_role")
        .filter(organization=organization, user__username=email.lower())
        .first()
    )
    if membership is None:
        raise NotFound(f"{email} is not a member of {organization.slug}.")
    return membership


def membership_for_token(*, raw_token: str) -> Membership | None:
    token = (
        ApiToken.objects.select_related("membership__user", "membership__organization", "membership__custom_role")
        .filter(token_hash=hash_token(raw_token), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.membership.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.membership


def membership_for_user(*, user, organization_id: int | None = None) -> Membership | None:
    qs = Membership.objects.select_related("organization", "custom_role", "user").filter(user=user)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return qs.order_by("id").first()
