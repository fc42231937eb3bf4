"""Refunds report, CSV exports and outgoing webhook endpoints (API v1, same auth and error shape)."""

from datetime import date
from typing import Annotated, Literal

from ninja import Field, Query, Router, Schema, Status

from flexbill.accounts.permissions import Permission
from flexbill.billing import exports, selectors
from flexbill.billing.models import InvoicePaymentMethod, InvoiceStatus
from flexbill.billing.reports import refunds_report
from flexbill.errors import InvalidInput, NotFound
from flexbill.outgoing.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from flexbill.outgoing.services import webhook_endpoint_create, webhook_resend

from . import schemas
from .access import org_of, require

router = Router()
ERRORS = {400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error}


class ReportRow(Schema):
    key: str
    currency: str
    amount: int
    count: int


class AttentionRefund(Schema):
    id: int
    invoice: str
    customer: str
    amount: int
    currency: str
    status: str
    failure_reason: str


class RefundsReportOut(Schema):
    date_from: date | None
    date_to: date | None
    per_month: list[ReportRow]
    per_reason: list[ReportRow]
    per_origin: list[ReportRow]
    attention: list[AttentionRefund]


@router.get("/reports/refunds", response={200: RefundsReportOut, **ERRORS}, tags=["reports"])
def refunds_report_get(
    request,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
):
    require(request, Permission.INVOICES_VIEW)
    if date_from and date_to and date_from > date_to:
        raise InvalidInput("from must not be after to.", code="date_range_invalid")
    report = refunds_report(organization=org_of(request), date_from=date_from, date_to=date_to)
    return {
        "date_from": report.date_from,
        "date_to": report.date_to,
        "per_month": [r.__dict__ for r in report.per_month],
        "per_reason": [r.__dict__ for r in report.per_reason],
        "per_origin": [r.__dict__ for r in report.per_origin],
        "attention": [
            {
                "id": r.pk,
                "invoice": r.charge.invoice.number,
                "customer": r.charge.invoice.customer.name,
                "amount": r.amount,
                "currency": r.currency,
                "status": r.status,
                "failure_reason": r.failure_reason,
            }
            for r in report.attention
        ],
    }


@router.get("/exports/invoices.csv", response={200: None, **ERRORS}, tags=["exports"])
def invoices_csv(
    request,
    status: Literal[tuple(InvoiceStatus.values)] | None = None,  # type: ignore[valid-type]
    payment_method: Literal[tuple(InvoicePaymentMethod.values)] | None = None,  # type: ignore[valid-type]
    customer: Annotated[int | None, Query(ge=1, le=schemas.MAX_ID)] = None,
    search: schemas.SearchText = None,
):
    require(request, Permission.INVOICES_VIEW)
    qs = selectors.invoice_filter(
        organization=org_of(request), status=status, payment_method=payment_method, customer=customer, search=search
    )
    return exports.csv_response("invoices.csv", exports.INVOICE_COLUMNS, exports.invoice_rows(qs))


@router.get("/exports/refunds.csv", response={200: None, **ERRORS}, tags=["exports"])
def refunds_csv(
    request,
    status: Literal["requested", "pending", "requires_action", "succeeded", "failed", "canceled"] | None = None,
    origin: Literal["app", "stripe", "manual"] | None = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
):
    require(request, Permission.INVOICES_VIEW)
    qs = selectors.refund_filter(
        organization=org_of(request), status=status, origin=origin, date_from=date_from, date_to=date_to
    )
    return exports.csv_response("refunds.csv", exports.REFUND_COLUMNS, exports.refund_rows(qs))


class EndpointIn(Schema):
    url: str = Field(min_length=8, max_length=500)
    event_types: list[Literal[EVENT_TYPES]] | None = None  # type: ignore[valid-type]


class EndpointOut(Schema):
    id: int
    url: str
    event_types: list[str]
    active: bool


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


@router.post("/webhook-endpoints", response={201: EndpointCreated, **ERRORS}, tags=["outgoing webhooks"])
def endpoint_create(request, payload: EndpointIn):
    require(request, Permission.INVOICES_MANAGE)
    endpoint = webhook_endpoint_create(organization=org_of(request), url=payload.url, event_types=payload.event_types)
    return Status(201, endpoint)  # the secret is shown once, here


@router.get("/webhook-endpoints", response={200: list[EndpointOut], **ERRORS}, tags=["outgoing webhooks"])
def endpoint_list(request):
    require(request, Permission.INVOICES_MANAGE)
    return list(WebhookEndpoint.objects.filter(organization=org_of(request)).order_by("id"))


def _endpoint(request, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(organization=org_of(request), pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response={200: list[DeliveryOut], **ERRORS},
    tags=["outgoing webhooks"],
)
def delivery_list(request, endpoint_id: Annotated[int, Field(ge=1, le=schemas.MAX_ID)]):
    require(request, Permission.INVOICES_MANAGE)
    endpoint = _endpoint(request, endpoint_id)
    return [_delivery_out(d) for d in endpoint.deliveries.order_by("-id")[:100]]


@router.post(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend",
    response={201: DeliveryOut, **ERRORS},
    tags=["outgoing webhooks"],
)
def delivery_resend(
    request,
    endpoint_id: Annotated[int, Field(ge=1, le=schemas.MAX_ID)],
    delivery_id: Annotated[int, Field(ge=1, le=schemas.MAX_ID)],
):
    require(request, Permission.INVOICES_MANAGE)
    delivery = _endpoint(request, endpoint_id).deliveries.filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound("No such delivery.")
    return Status(201, _delivery_out(webhook_resend(delivery=delivery)))
