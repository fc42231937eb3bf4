"""Sync health: how far behind the inbox of Stripe events is, what it cannot apply and why, and a retry."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from flexbill.accounts.permissions import Permission
from flexbill.billing.services.inbox_apply import inbox_event_retry
from flexbill.billing.sync_health import inbox_event_get, sync_health
from flexbill.billing.tasks import inbox_apply_soon

from .access import member_view, requires


@require_GET
@member_view
@requires(Permission.INVOICES_VIEW)
def sync_health_page(request):
    return render(
        request, "web/sync_health.html", {"health": sync_health(organization=request.membership.organization)}
    )


@require_POST
@member_view
@requires(Permission.INVOICES_MANAGE)
def sync_event_retry(request, event_id: int):
    event = inbox_event_get(organization=request.membership.organization, event_id=event_id)
    inbox_event_retry(event=event, actor=request.actor, on_retry=inbox_apply_soon)
    messages.success(request, f"Stripe event {event.event_id} will be tried again now.")
    return redirect("web:sync_health")
