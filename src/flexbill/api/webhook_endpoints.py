"""Outgoing webhook endpoints: register, list, pause/resume, delete, read deliveries, resend (API v1, same auth and
error shape). Every lookup is outgoing/selectors.py's, within the caller's organization."""

from typing import Annotated, Literal

from django.views.decorators.cache import never_cache
from ninja import Path, Router, Schema, Status
from ninja.decorators import decorate_view
from pydantic import StrictBool

from flexbill.accounts.permissions import Permission
from flexbill.audit.services import Actor
from flexbill.outgoing import selectors as outgoing_selectors
from flexbill.outgoing.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from flexbill.outgoing.services import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_set_active,
    webhook_resend,
)

from . import schemas
from .access import org_of, require

router = Router()
ERRORS = {400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error}


class EndpointIn(Schema):
    url: str  # every rule (length, scheme, host, address) is the service's, answered as url_invalid
    event_types: list[Literal[EVENT_TYPES]] | None = None  # type: ignore[valid-type]


class EndpointOut(Schema):
    id: int
    url: str
    event_types: list[str]
    active: bool


class EndpointPatch(Schema):
    active: StrictBool


class EndpointCreated(EndpointOut):
    secret: str


class DeliveryOut(Schema):
    id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    created_at: str
    delivered_at: str | None


def _delivery_out(d: WebhookDelivery) -> dict:
    return {
        "id": d.pk,
        "event_id": str(d.event_id),
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
    }


ENDPOINT_ERRORS = {**ERRORS, 409: schemas.Error}


def _actor(request) -> Actor:
    return Actor.for_user(request.auth.user)


def _endpoint(request, endpoint_id: int) -> WebhookEndpoint:
    return outgoing_selectors.webhook_endpoint_get(organization=org_of(request), endpoint_id=endpoint_id)


EndpointId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]


# Every answer about endpoints is no-store: the registration answer carries the signing secret.
@router.post("/webhook-endpoints", response={201: EndpointCreated, **ERRORS}, tags=["outgoing webhooks"])
@decorate_view(never_cache)
def endpoint_create(request, payload: EndpointIn):
    require(request, Permission.INVOICES_MANAGE)
    endpoint = webhook_endpoint_create(
        organization=org_of(request), url=payload.url, event_types=payload.event_types, actor=_actor(request)
    )
    return Status(201, endpoint)  # the secret is shown once, here


@router.get("/webhook-endpoints", response={200: list[EndpointOut], **ERRORS}, tags=["outgoing webhooks"])
@decorate_view(never_cache)
def endpoint_list(request):
    require(request, Permission.INVOICES_MANAGE)
    return list(outgoing_selectors.webhook_endpoint_list(organization=org_of(request)))


@router.patch("/webhook-endpoints/{endpoint_id}", response={200: EndpointOut, **ERRORS}, tags=["outgoing webhooks"])
@decorate_view(never_cache)
def endpoint_update(request, endpoint_id: EndpointId, payload: EndpointPatch):
    """Pause (`{"active": false}`) or resume (`{"active": true}`) an endpoint. A paused endpoint receives nothing,
    not even deliveries queued before it was paused."""
    require(request, Permission.INVOICES_MANAGE)
    endpoint = _endpoint(request, endpoint_id)
    return webhook_endpoint_set_active(endpoint=endpoint, active=payload.active, actor=_actor(request))


@router.delete("/webhook-endpoints/{endpoint_id}", response={204: None, **ERRORS}, tags=["outgoing webhooks"])
@decorate_view(never_cache)
def endpoint_delete(request, endpoint_id: EndpointId):
    """Delete an endpoint and its delivery log; deliveries still queued for it are not sent."""
    require(request, Permission.INVOICES_MANAGE)
    webhook_endpoint_delete(endpoint=_endpoint(request, endpoint_id), actor=_actor(request))
    return Status(204, None)


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response={200: list[DeliveryOut], **ERRORS},
    tags=["outgoing webhooks"],
)
@decorate_view(never_cache)
def delivery_list(request, endpoint_id: EndpointId):
    require(request, Permission.INVOICES_MANAGE)
    endpoint = _endpoint(request, endpoint_id)
    return [_delivery_out(d) for d in outgoing_selectors.webhook_delivery_list(endpoint=endpoint)]


@router.post(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend",
    response={201: DeliveryOut, **ENDPOINT_ERRORS},
    tags=["outgoing webhooks"],
)
@decorate_view(never_cache)
def delivery_resend(request, endpoint_id: EndpointId, delivery_id: EndpointId):
    """Queue the delivery's event again as a new delivery; 409 `endpoint_paused` while the endpoint is paused."""
    require(request, Permission.INVOICES_MANAGE)
    endpoint = _endpoint(request, endpoint_id)
    delivery = outgoing_selectors.webhook_delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    return Status(201, _delivery_out(webhook_resend(delivery=delivery)))
