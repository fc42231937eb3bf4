"""Outgoing webhooks for integrators: register endpoints, read each one's delivery log, resend a delivery."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from flexbill.accounts.permissions import Permission
from flexbill.errors import InvalidInput
from flexbill.outgoing import selectors
from flexbill.outgoing.services import webhook_endpoint_create, webhook_resend
from flexbill.outgoing.signing import HEADER

from .access import member_view, requires
from .forms import WebhookEndpointForm


@require_http_methods(["GET", "POST"])
@member_view
@requires(Permission.INVOICES_MANAGE)
def webhook_endpoints(request):
    organization = request.membership.organization
    form = WebhookEndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = webhook_endpoint_create(organization=organization, **form.cleaned_data)
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


@require_POST
@member_view
@requires(Permission.INVOICES_MANAGE)
def webhook_delivery_resend(request, endpoint_id: int, delivery_id: int):
    endpoint = selectors.webhook_endpoint_get(organization=request.membership.organization, endpoint_id=endpoint_id)
    delivery = selectors.webhook_delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    copy = webhook_resend(delivery=delivery)
    messages.success(request, f"Delivery #{delivery.pk} ({delivery.event_type}) was queued again as #{copy.pk}.")
    return redirect("web:webhook_endpoint_detail", endpoint_id=endpoint.pk)
