"""The refunds report: what was refunded, when, why and how, and what needs attention. Read-only."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from flexbill.accounts.models import Organization
from flexbill.choices import RefundStatus, ReportOrigin

from .models import CreditNote, Refund
from .rules import IN_FLIGHT_REFUND_STATUSES
from .selectors import created_between

ATTENTION_LIMIT = 50


@dataclass(frozen=True)
class Row:
    key: str
    currency: str
    amount: int
    count: int


@dataclass(frozen=True)
class RefundsReport:
    date_from: date | None
    date_to: date | None
    per_month: list[Row]
    per_reason: list[Row]
    per_origin: list[Row]
    attention: list[Refund]


def refunds_report(*, organization: Organization, date_from: date | None = None, date_to: date | None = None):
    """Succeeded refunds per month, reason and origin (credit notes that record money returned outside Stripe
    count as origin "credit_note"), plus refunds still in flight or failed."""
    bounds = created_between(date_from, date_to)
    succeeded = Refund.objects.filter(organization=organization, status=RefundStatus.SUCCEEDED, **bounds)

    def grouped(qs, key_field: str, key=str) -> list[Row]:
        rows = qs.values(key_field, "currency").annotate(amount=Sum("amount"), count=Count("id")).order_by(key_field)
        return [Row(key(r[key_field]), r["currency"], r["amount"], r["count"]) for r in rows]

    per_month = grouped(succeeded.annotate(month=TruncMonth("created_at")), "month", lambda m: m.strftime("%Y-%m"))
    per_reason = grouped(succeeded, "reason")
    per_origin = grouped(succeeded, "origin")
    outside = CreditNote.objects.filter(organization=organization, refund__isnull=True, **bounds).exclude(
        refund_method=""
    )
    per_origin += [Row(ReportOrigin.CREDIT_NOTE, r.currency, r.amount, r.count) for r in grouped(outside, "currency")]
    attention = list(
        Refund.objects.filter(
            organization=organization, status__in=[*IN_FLIGHT_REFUND_STATUSES, RefundStatus.FAILED], **bounds
        )
        .select_related("charge__invoice__customer")
        .order_by("-id")[:ATTENTION_LIMIT]
    )
    return RefundsReport(date_from, date_to, per_month, per_reason, per_origin, attention)
