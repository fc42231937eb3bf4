"""Outgoing webhooks for integrators: register, pause, resume and delete endpoints, read each one's delivery log,
resend a delivery. Every page here is `no-store`: the registration answer carries a signing secret."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from flexbill.accounts.permissions import Permission
from flexbill.errors import Conflict, InvalidInput
from flexbill.outgoing import selectors, services
from flexbill.outgoing.signing import HEADER

from .access import member_view, requires
from .forms import WebhookEndpointForm


@never_cache
@require_http_methods(["GET", "POST"])
@member_view
@requires(Permission.INVOICES_MANAGE)
def webhook_endpoints(request):
    organization = request.membership.organization
    form = WebhookEndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = services.webhook_endpoint_create(
                organization=organization, actor=request.actor, **form.cleaned_data
            )
        except InvalidInput as exc:
            form.add_domain_error(exc, form.ERROR_FIELDS)
        else:
            form = WebhookEndpointForm()
    # Rendered rather than redirected after a creation: the signing secret is shown this once and stored nowhere else.
    return render(
        request,
        "web/webhooks.html",
        {
            "endpoints": selectors.webhook_endpoint_list(organization=organization),
            "form": form,
            "created": created,
            "signature_header": HEADER,
        },
    )


@never_cache
@require_GET
@member_view
@requires(Permission.INVOICES_MANAGE)
def webhook_endpoint_detail(request, endpoint_id: int):
    endpoint = selectors.webhook_endpoint_get(organization=request.membership.organization, endpoint_id=endpoint_id)
    return render(
        request,
        "web/webhook_endpoint.html",
        {"endpoint": endpoint, "deliveries": selectors.webhook_delivery_list(endpoint=endpoint)},
    )


def _set_active(request, endpoint_id: int, *, active: bool):
    endpoint = selectors.webhook_endpoint_get(organization=request.membership.organization, endpoint_id=endpoint_id)
    services.webhook_endpoint_set_active(endpoint=endpoint, active=active, actor=request.actor)
    if active:
        messages.success(request, "Endpoint resumed: new events are delivered to it again.")
    else:
        messages.success(request, "Endpoint paused: it receives no deliveries until it is resumed.")
    return redirect("web:webhook_endpoint_detail", endpoint_id=endpoint.pk)


@never_cache
@require_POST
@member_view
@requires(Permission.INVOICES_MANAGE)
def webhook_endpoint_pause(request, endpoint_id: int):
    return _set_active(request, endpoint_id, active=False)


@never_cache
@require_POST
@member_view
@requires(Permission.INVOICES_MANAGE)
def webhook_endpoint_resume(request, endpoint_id: int):
    return _set_active(request, endpoint_id, active=True)


@never_cache
@require_POST
@member_view
@requires(Permission.INVOICES_MANAGE)
def webhook_endpoint_delete(request, endpoint_id: int):
    endpoint = selectors.webhook_endpoint_get(organization=request.membership.organization, endpoint_id=endpoint_id)
    services.webhook_endpoint_delete(endpoint=endpoint, actor=request.actor)
    messages.success(request, f"Endpoint {endpoint.url} was deleted with its delivery log.")
    return redirect("web:webhook_endpoints")


@never_cache
@require_POST
@member_view
@requires(Permission.INVOICES_MANAGE)
def webhook_delivery_resend(request, endpoint_id: int, delivery_id: int):
    endpoint = selectors.webhook_endpoint_get(organization=request.membership.organization, endpoint_id=endpoint_id)
    delivery = selectors.webhook_delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    try:
        copy = services.webhook_resend(delivery=delivery, actor=request.actor)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Delivery #{delivery.pk} ({delivery.event_type}) was queued again as #{copy.pk}.")
    return redirect("web:webhook_endpoint_detail", endpoint_id=endpoint.pk)
