from flexbill.errors import NotFound

from .models import ApiToken, CustomRole, Membership, MembershipStatus, Organization


def organization_get(*, slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise NotFound(f"No organization with slug {slug!r}.")
    return org


def membership_get(*, organization: Organization, email: str) -> Membership:
    membership = (
        Membership.objects.select_related("user", "organization", "custom_role")
        .filter(organization=organization, user__username=email.lower(), status=MembershipStatus.ACTIVE)
        .first()
    )
    if membership is None:
        raise NotFound(f"{email} is not a member of {organization.slug}.")
    return membership


def membership_for_user(*, user, organization_id: int | None = None) -> Membership | None:
    qs = Membership.objects.select_related("organization", "custom_role", "user").filter(
        user=user, status=MembershipStatus.ACTIVE
    )
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return qs.order_by("id").first()


# Team, roles and tokens (Settings) ----------------------------------------------------------------------------
def member_list(*, organization: Organization) -> list[Membership]:
    return list(
        Membership.objects.select_related("user", "custom_role")
        .filter(organization=organization)
        .order_by("status", "user__username")
    )


def member_get(*, organization: Organization, member_id: int) -> Membership:
    membership = (
        Membership.objects.select_related("user", "organization", "custom_role")
        .filter(organization=organization, pk=member_id)
        .first()
    )
    if membership is None:
        raise NotFound("No such member in this organization.")
    return membership


def role_list(*, organization: Organization) -> list[CustomRole]:
    return list(CustomRole.objects.filter(organization=organization).order_by("name"))


def role_get(*, organization: Organization, role_id: int) -> CustomRole:
    role = CustomRole.objects.filter(organization=organization, pk=role_id).first()
    if role is None:
        raise NotFound("No such role in this organization.")
    return role


def role_holders(*, role: CustomRole) -> list[str]:
    """E-mails of the members (invited ones too) who hold this role."""
    return list(
        Membership.objects.filter(custom_role=role).order_by("user__username").values_list("user__email", flat=True)
    )


def api_token_list(*, membership: Membership) -> list[ApiToken]:
    return list(ApiToken.objects.filter(membership=membership).order_by("revoked_at", "-created_at", "-id"))


def api_token_get(*, membership: Membership, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(membership=membership, pk=token_id).first()
    if token is None:
        raise NotFound("No such API token of yours.")
    return token
