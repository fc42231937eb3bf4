"""Reads of outgoing webhooks, always within one organization: another organization's ids are not found."""

from django.db.models import QuerySet

from flexbill.accounts.models import Organization
from flexbill.errors import NotFound

from .models import WebhookDelivery, WebhookEndpoint

DELIVERY_LOG_LIMIT = 100


def webhook_endpoint_list(*, organization: Organization) -> QuerySet:
    return WebhookEndpoint.objects.filter(organization=organization).order_by("id")


def webhook_endpoint_get(*, organization: Organization, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(organization=organization, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def webhook_delivery_list(*, endpoint: WebhookEndpoint, limit: int = DELIVERY_LOG_LIMIT) -> list[WebhookDelivery]:
    return list(endpoint.deliveries.order_by("-id")[:limit])


def webhook_delivery_get(*, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    delivery = endpoint.deliveries.filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery
