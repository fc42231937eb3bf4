"""Settings: Organization (preferences) and Stripe (the connection). Views translate: forms read
input, one service decides, refusals are shown next to the field."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from flexbill.accounts.organization_rules import may_change_stripe_connection
from flexbill.accounts.permissions import Permission
from flexbill.accounts.preferences import organization_preferences_update
from flexbill.audit.services import Actor
from flexbill.billing.services.stripe_connection import stripe_connection_update, stripe_test_event_send
from flexbill.billing.stripe_connection import stripe_connection_get
from flexbill.choices import Role
from flexbill.errors import Conflict, InvalidInput, StripeFailed
from flexbill.public_url import absolute_url

from .access import member_view, requires
from .organization_forms import ApprovalThresholdForm, PreferencesForm, SecretKeyForm, WebhookSecretForm


@require_http_methods(["GET", "POST"])
@member_view
@requires(Permission.SETTINGS_MANAGE)
def organization_preferences(request):
    organization = request.membership.organization
    initial = {
        "name": organization.name,
        "default_currency": organization.default_currency,
        "locale": organization.locale,
        "refund_emails_enabled": organization.refund_emails_enabled,
    }
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            organization_preferences_update(
                membership=request.membership, actor=Actor.for_user(request.user), **form.cleaned_data
            )
        except InvalidInput as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, "Preferences saved.")
            return redirect("web:settings_organization")
    return _organization_page(request, form=form)


def _organization_page(request, *, form=None, threshold_form=None):
    organization = request.membership.organization
    if form is None:
        form = PreferencesForm(
            initial={
                "name": organization.name,
                "default_currency": organization.default_currency,
                "locale": organization.locale,
                "refund_emails_enabled": organization.refund_emails_enabled,
            }
        )
    if threshold_form is None:
        threshold_form = ApprovalThresholdForm(
            currency=organization.default_currency,
            locale=organization.locale,
            initial={"amount": organization.refund_approval_threshold},
        )
    context = {
        "form": form,
        "threshold_form": threshold_form,
        "organization": organization,
        "may_set_threshold": request.membership.role == Role.OWNER,
    }
    return render(request, "web/settings_organization.html", context)


@require_POST
@member_view
@requires(Permission.SETTINGS_MANAGE)
def refund_approval_threshold(request):
    """Owners only (the service refuses anyone else): refunds at or above it wait for a second person."""
    organization = request.membership.organization
    form = ApprovalThresholdForm(request.POST, currency=organization.default_currency, locale=organization.locale)
    if form.is_valid():
        try:
            organization_preferences_update(
                membership=request.membership,
                actor=Actor.for_user(request.user),
                refund_approval_threshold=form.cleaned_data["amount"],
            )
        except (InvalidInput, Conflict) as exc:  # PermissionDenied (not an owner) becomes the 403 page
            form.add_error("amount", exc.detail)
        else:
            on = form.cleaned_data["amount"] is not None
            messages.success(request, "Refund approvals are on." if on else "Refund approvals are off.")
            return redirect("web:settings_organization")
    return _organization_page(request, threshold_form=form)


@never_cache
@require_GET
@member_view
@requires(Permission.SETTINGS_MANAGE)
def stripe_settings(request):
    return _stripe_page(request)


@never_cache
@require_POST
@member_view
@requires(Permission.SETTINGS_MANAGE)
def stripe_secret_key(request):
    form = SecretKeyForm(request.POST)
    status = _save(request, form, "secret_key") if form.is_valid() else 400
    if status == 200:
        messages.success(request, "Stripe accepted the secret key; it is saved.")
        return redirect("web:settings_stripe")
    return _stripe_page(request, key_form=form, status=status)


@never_cache
@require_POST
@member_view
@requires(Permission.SETTINGS_MANAGE)
def stripe_webhook_secret(request):
    form = WebhookSecretForm(request.POST)
    status = _save(request, form, "webhook_secret") if form.is_valid() else 400
    if status == 200:
        messages.success(request, "Signing secret saved. Send a test event to check it.")
        return redirect("web:settings_stripe")
    return _stripe_page(request, webhook_form=form, status=status)


@never_cache
@require_POST
@member_view
@requires(Permission.SETTINGS_MANAGE)
def stripe_test_event(request):
    try:
        result = stripe_test_event_send(membership=request.membership)
    except InvalidInput as exc:
        messages.error(request, exc.detail)
        return redirect("web:settings_stripe")
    if result.verified:
        messages.success(request, f"Test event {result.event_id} verified with the signing secret and stored.")
    else:
        messages.error(request, f"Test event {result.event_id} was not accepted: {result.detail}")
    return redirect("web:settings_stripe")


def _save(request, form, field: str) -> int:
    """The answer's status: 200 saved; 400 or 502 with the refusal next to the field (Stripe unreachable above the
    form). Only owners may save: the service refuses anyone else, which member_view shows as a 403 page."""
    try:
        stripe_connection_update(membership=request.membership, **{field: form.cleaned_data[field]})
    except InvalidInput as exc:
        form.add_domain_error(exc)
        return 400
    except StripeFailed as exc:
        form.add_error(None, exc.detail)
        return 502
    return 200


def _stripe_page(request, *, key_form=None, webhook_form=None, status: int = 200):
    organization = request.membership.organization
    organization.refresh_from_db()
    connection = stripe_connection_get(organization=organization)
    context = {
        "connection": connection,
        "webhook_url": absolute_url(request, connection.webhook_path),
        "can_change": may_change_stripe_connection(request.membership.role),
        "key_form": key_form or SecretKeyForm(),
        "webhook_form": webhook_form or WebhookSecretForm(),
    }
    return render(request, "web/settings_stripe.html", context, status=status)
