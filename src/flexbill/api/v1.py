"""REST API v1 (contract: docs/api.md, REST API). Handlers parse, call one service or selector, and shape
the answer."""

from typing import Annotated, Literal

import orjson
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Path, Query, Status
from ninja.parser import Parser

from flexbill.accounts.permissions import Permission
from flexbill.audit.selectors import audit_entries
from flexbill.audit.services import Actor
from flexbill.billing import selectors, services, stripe_reads
from flexbill.billing.services import approvals
from flexbill.choices import ChargeSource, InvoicePaymentMethod, InvoiceStatus, RefundOrigin, RefundStatus
from flexbill.errors import InvalidInput

from . import errors, schemas
from .access import org_of, require
from .auth import BearerToken
from .exports import router as exports_router
from .organization import router as organization_router
from .refund_batches import router as refund_batches_router
from .reports import router as reports_router
from .serializers import audit_event_out, charge_out, credit_note_out, invoice_out, invoice_summaries, refund_out
from .sync_health import router as sync_health_router
from .team import router as team_router
from .webhook_endpoints import router as webhook_endpoints_router


class JsonObjectParser(Parser):
    """Request bodies are JSON objects. django-ninja would read `null`, `[...]` or `"..."` as an empty body,
    which for a refund means "refund all that remains"; refuse them instead (answered 400, api/errors.py).

    Bodies are read as JSON whatever their Content-Type, so `curl -d '{...}'` works; a body that is not JSON is
    refused with a detail naming the Content-Type the API expects."""

    def parse_body(self, request):
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise errors.BodyRefused("The request body must be a JSON object.")
        if _has_nul(data):
            # PostgreSQL text cannot hold NUL; Django's forms refuse it too.
            raise errors.BodyRefused("Text in the request body must not contain NUL characters.")
        return data


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


api = NinjaAPI(
    title="flexbill API",
    version="1",
    description="Invoices, Stripe charges and refunds for flex-workspace operators. Amounts are minor units.",
    auth=BearerToken(),
    parser=JsonObjectParser(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)

PathId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
ERRORS = {400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error, 409: schemas.Error}
STRIPE_ERRORS = {**ERRORS, 502: schemas.Error}
Cursor = Annotated[str | None, Query(max_length=200)]


def _actor(request: HttpRequest) -> Actor:
    return request.auth


# Customers --------------------------------------------------------------------------------------------------
@api.post("/v1/customers", response={201: schemas.CustomerOut, **STRIPE_ERRORS}, tags=["customers"])
def customer_create(request, payload: schemas.CustomerIn):
    customer = services.customer_create(
        organization=org_of(request), name=payload.name, email=payload.email, actor=_actor(request)
    )
    return Status(201, customer)


@api.post(
    "/v1/customers/{customer_id}/payment-methods",
    response={201: schemas.PaymentMethodOut, **STRIPE_ERRORS},
    tags=["customers"],
)
def payment_method_add(request, customer_id: PathId, payload: schemas.PaymentMethodIn):
    customer = selectors.customer_get(organization=org_of(request), customer_id=customer_id)
    method = services.payment_method_add(
        customer=customer, stripe_payment_method=payload.stripe_payment_method, actor=_actor(request)
    )
    return Status(201, {**method.__dict__, "customer": method.customer_id, "label": method.label})


# Invoices ---------------------------------------------------------------------------------------------------
@api.post("/v1/invoices", response={201: schemas.InvoiceOut, **ERRORS}, tags=["invoices"])
def invoice_create(request, payload: schemas.InvoiceIn):
    customer = selectors.customer_get(organization=org_of(request), customer_id=payload.customer)
    invoice = services.invoice_create(
        organization=org_of(request),
        customer=customer,
        currency=payload.currency,
        payment_method=payload.payment_method,
        lines=[line.dict() for line in payload.lines],
        number=payload.number,
        actor=_actor(request),
    )
    return Status(201, invoice_out(selectors.invoice_get(organization=org_of(request), invoice_id=invoice.pk)))


@api.get("/v1/invoices", response={200: schemas.InvoicePage, **ERRORS}, tags=["invoices"])
def invoice_list(
    request,
    status: Literal[tuple(InvoiceStatus.values)] | None = None,  # type: ignore[valid-type]
    payment_method: Literal[tuple(InvoicePaymentMethod.values)] | None = None,  # type: ignore[valid-type]
    customer: Annotated[int | None, Query(ge=1, le=schemas.MAX_ID)] = None,
    search: schemas.SearchText = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    require(request, Permission.INVOICES_VIEW)
    page = selectors.invoice_summary_list(
        organization=org_of(request),
        filters={"status": status, "payment_method": payment_method, "customer": customer, "search": search},
        cursor=cursor,
        limit=limit,
    )
    # The hottest endpoint: its items are read as plain rows of the columns it shows (no model is built) and
    # answered as they are instead of being validated again against InvoicePage (which still documents them),
    # encoded by orjson (a page of 50 took the standard library's encoder longer than the SQL took to run).
    body = orjson.dumps({"items": invoice_summaries(page.items), "next_cursor": page.next_cursor})
    return HttpResponse(body, content_type="application/json")


@api.get("/v1/invoices/{invoice_id}", response={200: schemas.InvoiceOut, **ERRORS}, tags=["invoices"])
def invoice_detail(request, invoice_id: PathId):
    require(request, Permission.INVOICES_VIEW)
    return invoice_out(selectors.invoice_get(organization=org_of(request), invoice_id=invoice_id))


@api.post("/v1/invoices/{invoice_id}/charges", response={201: schemas.ChargeOut, **STRIPE_ERRORS}, tags=["charges"])
def charge_create(request, invoice_id: PathId, payload: schemas.ChargeIn):
    invoice = selectors.invoice_get(organization=org_of(request), invoice_id=invoice_id, detail=False)
    if payload.source == ChargeSource.STRIPE:
        if payload.payment_method is None:
            raise InvalidInput("payment_method is required to charge through Stripe.", code="payment_method_required")
        charge = services.charge_create_stripe(
            invoice=invoice, payment_method_id=payload.payment_method, amount=payload.amount, actor=_actor(request)
        )
    else:
        charge = services.charge_record(
            invoice=invoice,
            source=payload.source,
            amount=payload.amount,
            reference=payload.reference,
            actor=_actor(request),
        )
    return Status(201, charge_out(selectors.charge_get(organization=org_of(request), charge_id=charge.pk)))


@api.post(
    "/v1/invoices/{invoice_id}/credit-notes", response={201: schemas.CreditNoteOut, **ERRORS}, tags=["credit notes"]
)
def credit_note_create(request, invoice_id: PathId, payload: schemas.CreditNoteIn):
    invoice = selectors.invoice_get(organization=org_of(request), invoice_id=invoice_id, detail=False)
    refund = payload.refund
    note = services.credit_note_create(
        actor=request.auth,
        invoice=invoice,
        amount=payload.amount,
        reason=payload.reason,
        refund_method=refund.method if refund else "",
        refund_reference=refund.reference if refund else "",
        refunded_on=refund.date if refund else None,
    )
    return Status(201, credit_note_out(note))


# Charges ----------------------------------------------------------------------------------------------------
@api.get("/v1/charges/{charge_id}", response={200: schemas.ChargeOut, **ERRORS}, tags=["charges"])
def charge_detail(request, charge_id: PathId):
    require(request, Permission.INVOICES_VIEW)
    return charge_out(selectors.charge_get(organization=org_of(request), charge_id=charge_id))


@api.get("/v1/charges/{charge_id}/details", response={200: schemas.ChargeDetailsOut, **STRIPE_ERRORS}, tags=["charges"])
def charge_details(request, charge_id: PathId):
    require(request, Permission.INVOICES_VIEW)
    charge = selectors.charge_get(organization=org_of(request), charge_id=charge_id)
    details = stripe_reads.charge_stripe_details(charge=charge)
    method = charge.payment_method
    return {
        "stripe_charge_id": details.id,
        "stripe_payment_intent_id": details.payment_intent_id,
        "amount": details.amount,
        "amount_refunded": details.amount_refunded,
        "currency": details.currency,
        "status": details.status,
        "created": details.created,
        "stripe_customer_id": details.customer_id,
        "payment_method_type": charge.payment_method_type,
        "payment_method_label": charge.payment_method_label,
        "card_brand": charge.payment_method_brand or (method.brand if method else ""),
        "last4": charge.payment_method_last4 or (method.last4 if method else ""),
        "refunds": [r.__dict__ for r in details.refunds],
    }


@api.post(
    "/v1/charges/{charge_id}/refunds",
    response={201: schemas.RefundOut, 202: schemas.RefundOut, **STRIPE_ERRORS},
    tags=["refunds"],
)
def refund_create(
    request,
    charge_id: PathId,
    payload: schemas.RefundIn,
    idempotency_key: schemas.IdempotencyKey = None,
):
    charge = selectors.charge_get(organization=org_of(request), charge_id=charge_id, detail=False)
    refund = services.refund_create(
        actor=request.auth,
        charge=charge,
        amount=payload.amount,
        reason=payload.reason,
        note=payload.note,
        credit_note=payload.credit_note,
        idempotency_key=idempotency_key,
        currency=payload.currency,
        request_body=schemas.body_as_received(request),
    )
    # 202: recorded and reserved, waiting for another person's approval before anything goes to Stripe.
    return Status(202 if refund.status == RefundStatus.AWAITING_APPROVAL else 201, refund_out(refund))


@api.post("/v1/refunds/{refund_id}/approve", response={200: schemas.RefundOut, **STRIPE_ERRORS}, tags=["refunds"])
def refund_approve(request, refund_id: PathId):
    """Approve a refund awaiting approval and send it to Stripe. Needs billing.refunds.approve; never by its
    requester (403 own_refund); 409 not_awaiting_approval once decided, approval_expired once too old."""
    refund = selectors.refund_get(organization=org_of(request), refund_id=refund_id)
    refund = approvals.refund_approve(actor=request.auth, refund=refund)
    return refund_out(refund)


@api.post("/v1/refunds/{refund_id}/reject", response={200: schemas.RefundOut, **ERRORS}, tags=["refunds"])
def refund_reject(request, refund_id: PathId, payload: schemas.RefundRejectIn):
    """Reject a refund awaiting approval: canceled, its amount released, nothing sent to Stripe."""
    refund = selectors.refund_get(organization=org_of(request), refund_id=refund_id)
    refund = approvals.refund_reject(actor=request.auth, refund=refund, reason=payload.reason)
    return refund_out(refund)


@api.post("/v1/charges/{charge_id}/status", response={200: schemas.ChargeOut, **ERRORS}, tags=["charges"])
def charge_status(request, charge_id: PathId, payload: schemas.ChargeStatusIn):
    charge = selectors.charge_get(organization=org_of(request), charge_id=charge_id)
    services.charge_mark_refunded(actor=request.auth, charge=charge, via="status")
    return charge_out(selectors.charge_get(organization=org_of(request), charge_id=charge_id))


@api.delete("/v1/charges/{charge_id}", response={200: schemas.ChargeOut, **ERRORS}, tags=["charges"])
def charge_delete(request, charge_id: PathId):
    charge = selectors.charge_get(organization=org_of(request), charge_id=charge_id)
    services.charge_mark_refunded(actor=request.auth, charge=charge, via="delete")
    return charge_out(selectors.charge_get(organization=org_of(request), charge_id=charge_id))


# Refunds and audit ------------------------------------------------------------------------------------------
@api.get("/v1/refunds", response={200: schemas.RefundPage, **ERRORS}, tags=["refunds"])
def refund_list(
    request,
    charge: Annotated[int | None, Query(ge=1, le=schemas.MAX_ID)] = None,
    status: Literal[tuple(RefundStatus.values)] | None = None,  # type: ignore[valid-type]
    origin: Literal[tuple(RefundOrigin.values)] | None = None,  # type: ignore[valid-type]
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    require(request, Permission.INVOICES_VIEW)
    page = selectors.refund_list(
        organization=org_of(request),
        filters={"charge": charge, "status": status, "origin": origin},
        cursor=cursor,
        limit=limit,
    )
    return {"items": [refund_out(r) for r in page.items], "next_cursor": page.next_cursor}


@api.get("/v1/audit-events", response={200: schemas.AuditPage, **ERRORS}, tags=["audit"])
def audit_event_list(
    request,
    object: Annotated[str | None, Query(max_length=100, pattern=schemas.NO_NUL)] = None,  # noqa: A002 - the contract's parameter name
    invoice: Annotated[int | None, Query(ge=1, le=schemas.MAX_ID)] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    require(request, Permission.AUDIT_VIEW)
    page = selectors.audit_event_list(
        organization=org_of(request), object_ref=object, invoice_id=invoice, cursor=cursor, limit=limit
    )
    entries = audit_entries(organization=org_of(request), events=page.items)
    return {"items": [audit_event_out(e.event, summary=e.summary) for e in entries], "next_cursor": page.next_cursor}


api.add_router("/v1", reports_router)
api.add_router("/v1", exports_router)
api.add_router("/v1", webhook_endpoints_router)
api.add_router("/v1", sync_health_router)
api.add_router("/v1", organization_router)
api.add_router("/v1", team_router)
api.add_router("/v1", refund_batches_router)
