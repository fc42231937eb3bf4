import hashlib
import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from flexbill.choices import MembershipStatus
from flexbill.encryption.fields import EncryptedTextField

from .permissions import Permission, Role, role_permits


class Organization(models.Model):
    """A workspace operator: the tenant every other object belongs to."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    # Encrypted at rest (FLEXBILL_ENCRYPTION_KEYS); read here as plain text.
    stripe_secret_key = EncryptedTextField(max_length=255, blank=True)
    stripe_webhook_secret = EncryptedTextField(max_length=255, blank=True)
    # Only platform staff may turn this off (in Django admin), as in Flex where operators "contact support".
    refund_sync_enabled = models.BooleanField(default=True)
    # Email the customer when a refund succeeds (billing admins always hear about failed refunds).
    refund_emails_enabled = models.BooleanField(default=True)
    default_currency = models.CharField(max_length=3, default="usd")
    # How staff type and read money here: "de_DE" reads "1.234,50", "en_US" reads "1,234.50".
    locale = models.CharField(max_length=20, default="en_US")
    # Refunds of this amount or more (minor units of default_currency) wait for a second person's approval;
    # None: no approval needed. Only owners change it (docs/rules.md, rule 21).
    refund_approval_threshold = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Raised whenever who may call the API for this organization changes (a token revoked, a role changed or
    # removed, a member removed): API callers are cached per process and each request compares this number, so
    # a revocation is honoured on the next request (accounts/api_callers.py).
    # db_default too: rows inserted by code that predates the column (older migrations' states) still get 0.
    access_version = models.PositiveBigIntegerField(default=0, db_default=0)
    # When the worker's periodic reconcile of this organization is next due (None: at the next look). The worker
    # that moves it forward, in one conditional UPDATE, is the one that queues the reconcile: once per interval
    # however many workers run (billing/tasks.py). Reconcile asked for by a person runs at once, whatever it says.
    reconcile_due_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class CustomRole(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="custom_roles")
    name = models.CharField(max_length=100)
    permissions = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="custom_role_name_unique")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's place in one organization, with the role that decides what they may do there."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    custom_role = models.ForeignKey(CustomRole, null=True, blank=True, on_delete=models.PROTECT)
    status = models.CharField(max_length=10, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE)
    # The invitation link carries a random nonce; only its SHA-256 is kept. A new invitation replaces it and
    # accepting clears it, which is what makes every link single-use and the previous one dead.
    invitation_digest = models.CharField(max_length=64, blank=True, default="")
    invitation_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
            models.CheckConstraint(
                condition=(models.Q(role=Role.CUSTOM, custom_role__isnull=False) | ~models.Q(role=Role.CUSTOM)),
                name="membership_custom_role_set",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role_label})"

    @property
    def role_label(self) -> str:
        return self.custom_role.name if self.role == Role.CUSTOM and self.custom_role else self.role.title()

    @property
    def role_ref(self) -> str:
        """The role as the API and the CLI name it: owner, admin, member or custom:NAME."""
        return f"custom:{self.custom_role.name}" if self.role == Role.CUSTOM and self.custom_role else self.role

    @property
    def is_active(self) -> bool:
        return self.status == MembershipStatus.ACTIVE

    def has_permission(self, permission: Permission | str) -> bool:
        if not self.is_active:
            return False
        custom = frozenset(self.custom_role.permissions) if self.custom_role else frozenset()
        return role_permits(self.role, custom, str(permission))


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A Bearer token for the REST API. Only its SHA-256 is stored; the token is shown once when created."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True, validators=[RegexValidator(r"^[0-9a-f]{64}$")])
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.membership})"

    @staticmethod
    def generate() -> str:
        return "fb_" + secrets.token_urlsafe(32)


class SignInCount(models.Model):
    """Failed sign-ins against one identity: from one client address, or (address "*") from anywhere.

    Attempts are counted before the password is checked, with single conditional UPDATEs, so simultaneous requests
    can never get more tries than the limit; a successful attempt gives its count back.
    """

    ANYWHERE = "*"

    identity = models.CharField(max_length=254)
    address = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    last_failure_at = models.DateTimeField(null=True, blank=True)
    next_allowed_at = models.DateTimeField()
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["identity", "address"], name="sign_in_count_unique")]

    def __str__(self) -> str:
        return f"{self.identity} from {self.address}: {self.failures}"


class ActionCount(models.Model):
    """How often an anonymous visitor asked flexbill to act (send a password-reset e-mail) under one key in the
    current window; changed by one conditional UPDATE per request (accounts/action_limits.py)."""

    key = models.CharField(max_length=300, unique=True)
    count = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.window_started_at:%Y-%m-%d %H:%M}"


class UserSession(models.Model):
    """A signed-in web session of a user, so that removing someone from an organization can end their sessions at
    once without reading every session in the store."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="web_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.session_key[:6]}…)"
