"""Writes for organizations, roles, users and tokens (used by the CLI, the demo and tests)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from flexbill.errors import InvalidInput

from .models import ApiToken, CustomRole, Membership, Organization, hash_token
from .organization_rules import known_currency, known_locale
from .permissions import Role
from .sign_in.identity import sign_in_identity


def organization_create(
    *,
    slug: str,
    name: str,
    stripe_secret_key: str = "",
    stripe_webhook_secret: str = "",
    currency: str = "usd",
    locale: str = "en_US",
) -> Organization:
    org = Organization(
        slug=slug,
        name=name,
        stripe_secret_key=stripe_secret_key,
        stripe_webhook_secret=stripe_webhook_secret,
        default_currency=known_currency(currency),
        locale=known_locale(locale),
    )
    try:
        org.full_clean()
    except ValidationError as exc:
        raise InvalidInput(_first_message(exc)) from exc
    org.save()
    return org


def custom_role_create(*, organization: Organization, name: str, permissions: list[str]) -> CustomRole:
    """The command line's and the demo's way in; the settings pages go through roles.role_create."""
    from .roles import role_create_for_setup

    return role_create_for_setup(organization=organization, name=name, permissions=permissions)


def user_create(*, organization: Organization, email: str, password: str, role: str, name: str = "") -> Membership:
    """Create (or reuse) the user with this email and give them a role in the organization.

    `role` is owner, admin, member or custom:NAME (a custom role of this organization).
    """
    custom_role = None
    if role.startswith("custom:"):
        role_name = role.split(":", 1)[1]
        custom_role = CustomRole.objects.filter(organization=organization, name=role_name).first()
        if custom_role is None:
            raise InvalidInput(f"No custom role named {role_name!r} in {organization.slug}.")
        role = Role.CUSTOM
    elif role not in {Role.OWNER, Role.ADMIN, Role.MEMBER}:
        raise InvalidInput("Role must be owner, admin, member or custom:NAME.")
    User = get_user_model()
    try:
        User._meta.get_field("email").run_validators(email)
    except ValidationError as exc:
        raise InvalidInput(f"{email!r} is not a valid email address.") from exc
    with transaction.atomic():
        # The username is the identity sign-in resolves typed e-mails to (see sign_in/identity.py).
        username = sign_in_identity(email)
        user = User.objects.filter(username=username).first()
        if user is None:
            try:
                validate_password(password)
            except ValidationError as exc:
                raise InvalidInput(" ".join(exc.messages)) from exc
            user = User.objects.create_user(username=username, email=email.lower(), password=password)
            if name:
                user.first_name = name
                user.save(update_fields=["first_name"])
        if Membership.objects.filter(user=user, organization=organization).exists():
            raise InvalidInput(f"{email} already belongs to {organization.slug}.")
        return Membership.objects.create(user=user, organization=organization, role=role, custom_role=custom_role)


def api_token_create(*, membership: Membership) -> str:
    raw = ApiToken.generate()
    ApiToken.objects.create(membership=membership, token_hash=hash_token(raw), prefix=raw[:10])
    return raw


def _first_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        field, messages = next(iter(exc.message_dict.items()))
        return f"{field}: {messages[0]}"
    return exc.messages[0]
