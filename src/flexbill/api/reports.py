"""The refunds report (API v1, same auth and error shape)."""

from datetime import date
from typing import Annotated

from ninja import Query, Router, Schema

from flexbill.accounts.permissions import Permission
from flexbill.billing.reports import refunds_report
from flexbill.errors import InvalidInput

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
