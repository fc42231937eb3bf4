"""CSV exports of invoices and refunds (API v1, same auth and error shape)."""

from datetime import date
from typing import Annotated, Literal

from ninja import Query, Router

from flexbill.accounts.permissions import Permission
from flexbill.billing import exports, selectors
from flexbill.choices import InvoicePaymentMethod, InvoiceStatus, RefundOrigin, RefundStatus

from . import schemas
from .access import org_of, require

router = Router()
ERRORS = {400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error}


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
    status: Literal[tuple(RefundStatus.values)] | None = None,  # type: ignore[valid-type]
    origin: Literal[tuple(RefundOrigin.values)] | None = None,  # type: ignore[valid-type]
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
):
    require(request, Permission.INVOICES_VIEW)
    qs = selectors.refund_filter(
        organization=org_of(request), status=status, origin=origin, date_from=date_from, date_to=date_to
    )
    return exports.csv_response("refunds.csv", exports.REFUND_COLUMNS, exports.refund_rows(qs))
