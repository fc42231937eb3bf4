"""The caller's organization: its preferences and its Stripe connection (API v1, same auth and error shape).

Secrets go in, never out: answers say whether each is set, the mode and at most the last four characters."""

from datetime import datetime

from django.views.decorators.cache import never_cache
from ninja import Field, Router, Schema
from ninja.decorators import decorate_view
from pydantic import StrictBool, StrictInt, model_validator

from flexbill.accounts.permissions import Permission
from flexbill.accounts.preferences import organization_preferences_update
from flexbill.audit.services import Actor
from flexbill.billing.services.stripe_connection import stripe_connection_update
from flexbill.billing.stripe_connection import stripe_connection_get
from flexbill.public_url import absolute_url

from . import schemas
from .access import org_of, require

router = Router(tags=["organization"])
ERRORS = {400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error, 409: schemas.Error}


class StripeConnectionOut(Schema):
    connected: bool
    mode: str | None = Field(description="test or live, from the secret key's prefix; null when not connected")
    secret_key_last4: str
    webhook_secret_set: bool
    webhook_url: str = Field(description="The URL to add as an endpoint in Stripe's dashboard")
    events: list[str] = Field(description="The events to select for that endpoint")
    last_event_at: datetime | None = Field(description="When the last verified delivery arrived")
    last_event_type: str


class OrganizationOut(Schema):
    name: str
    slug: str
    default_currency: str
    locale: str
    refund_emails_enabled: bool
    refund_sync_enabled: bool = Field(description="Read only: platform staff turn refund sync off")
    refund_approval_threshold: int | None = Field(
        description="Refunds of this amount or more (minor units of default_currency) wait for approval; null: off"
    )
    stripe: StripeConnectionOut


class OrganizationPatch(Schema):
    name: str | None = Field(None, max_length=1000)
    default_currency: str | None = Field(None, max_length=100)
    locale: str | None = Field(None, max_length=100)
    refund_emails_enabled: StrictBool | None = None
    refund_approval_threshold: StrictInt | None = Field(
        None, description="Owners only. Minor units from 1 to 10^12, or null to turn approvals off"
    )

    model_config = {"extra": "forbid"}

    @model_validator(mode="before")
    @classmethod
    def _platform_staff_only(cls, data):
        if isinstance(data, dict) and "refund_sync_enabled" in data:
            raise ValueError("refund_sync_enabled is changed by platform staff only")
        return data


class StripeConnectionIn(Schema):
    secret_key: str | None = Field(None, max_length=1000, description="sk_test_…, sk_live_…, rk_test_… or rk_live_…")
    webhook_secret: str | None = Field(None, max_length=1000, description="whsec_…")

    model_config = {"extra": "forbid"}


def organization_out(request, organization) -> dict:
    connection = stripe_connection_get(organization=organization)
    return {
        "name": organization.name,
        "slug": organization.slug,
        "default_currency": organization.default_currency,
        "locale": organization.locale,
        "refund_emails_enabled": organization.refund_emails_enabled,
        "refund_sync_enabled": organization.refund_sync_enabled,
        "refund_approval_threshold": organization.refund_approval_threshold,
        "stripe": {
            "connected": connection.connected,
            "mode": connection.mode,
            "secret_key_last4": connection.secret_key_last4,
            "webhook_secret_set": connection.webhook_secret_set,
            "webhook_url": absolute_url(request, connection.webhook_path),
            "events": list(connection.events),
            "last_event_at": connection.health.last_event_at,
            "last_event_type": connection.health.last_event_type,
        },
    }


@router.get("/organization", response={200: OrganizationOut, **ERRORS})
@decorate_view(never_cache)
def organization_detail(request):
    require(request, Permission.INVOICES_VIEW)
    return organization_out(request, org_of(request))


@router.patch("/organization", response={200: OrganizationOut, **ERRORS})
@decorate_view(never_cache)
def organization_update(request, payload: OrganizationPatch):
    """Change the name, default currency (one Stripe charges), locale (a babel id such as de_DE) or refund e-mails
    (settings.manage), or the refund approval threshold (owners only; 409 approvers_missing while fewer than two
    members may approve refunds)."""
    organization = organization_preferences_update(
        membership=request.auth, actor=Actor.for_user(request.auth.user), **payload.dict(exclude_unset=True)
    )
    return organization_out(request, organization)


@router.put("/organization/stripe", response={200: OrganizationOut, **ERRORS, 502: schemas.Error})
@decorate_view(never_cache)
def stripe_connection_put(request, payload: StripeConnectionIn):
    """Owners only. A new secret key is saved once Stripe accepts it in one read call (400 `secret_key_refused`
    otherwise, 502 when Stripe cannot be reached); nothing is saved unless everything given is."""
    organization = stripe_connection_update(
        membership=request.auth, secret_key=payload.secret_key, webhook_secret=payload.webhook_secret
    )
    return organization_out(request, organization)
