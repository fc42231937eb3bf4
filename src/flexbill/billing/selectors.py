"""Billing reads. Every selector takes the organization, so tenant scoping cannot be forgotten."""

from collections.abc import Callable
from datetime import date, datetime, time
from functools import cache
from operator import itemgetter

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from flexbill.accounts.models import Organization
from flexbill.audit.models import AuditEvent
from flexbill.choices import RefundStatus
from flexbill.errors import InvalidInput, NotFound

from .models import Charge, CreditNote, Customer, Invoice, PaymentMethod, Refund
from .pagination import PAGE_SIZE, Page, check_limit, decode_cursor, page_of, paginate


def customer_get(*, organization: Organization, customer_id: int) -> Customer:
    customer = Customer.objects.filter(organization=organization, pk=customer_id).first()
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def payment_method_list(*, customer: Customer) -> list[PaymentMethod]:
    return list(customer.payment_methods.order_by("-id"))


def invoice_filter(
    *, organization: Organization, status=None, payment_method=None, customer=None, search=None
) -> QuerySet:
    qs = Invoice.objects.filter(organization=organization).select_related("customer")
    if status:
        qs = qs.filter(status=status)
    if payment_method:
        qs = qs.filter(payment_method=payment_method)
    if customer:
        qs = qs.filter(customer_id=customer)
    if search:
        qs = qs.filter(Q(customer__name__icontains=search) | Q(number__icontains=search))
    return qs


def invoice_list(*, organization: Organization, filters: dict, cursor: str | None, limit: int = PAGE_SIZE) -> Page:
    return paginate(invoice_filter(organization=organization, **filters), cursor=cursor, limit=limit)


# What a line of an invoice list shows (the API's InvoiceSummary), in the order invoice_summary_list reads them.
INVOICE_SUMMARY_COLUMNS = (
    "id",
    "number",
    "customer_id",
    "customer_name",
    "currency",
    "total",
    "amount_paid",
    "amount_refunded",
    "payment_method",
    "status",
    "issued_on",
)


def invoice_summary_list(
    *, organization: Organization, filters: dict, cursor: str | None, limit: int = PAGE_SIZE
) -> Page:
    """invoice_list as tuples of INVOICE_SUMMARY_COLUMNS, for answers that show only those.

    The API's hottest read, so it is one statement written out here rather than built by the ORM on every request
    (building it cost more than running it: bench/invoices.py). Its filters mean what invoice_filter's mean, on
    SQLite and PostgreSQL alike; the search is Django's icontains (case-insensitive, % and _ taken literally)."""
    check_limit(limit)
    last_id = decode_cursor(cursor)
    conditions, params = ["i.organization_id = %s"], [organization.pk]
    if status := filters.get("status"):
        conditions.append("i.status = %s")
        params.append(status)
    if payment_method := filters.get("payment_method"):
        conditions.append("i.payment_method = %s")
        params.append(payment_method)
    if customer := filters.get("customer"):
        conditions.append("i.customer_id = %s")
        params.append(customer)
    if search := filters.get("search"):
        conditions.append(r"(UPPER(c.name) LIKE UPPER(%s) ESCAPE '\' OR UPPER(i.number) LIKE UPPER(%s) ESCAPE '\')")
        pattern = f"%{connection.ops.prep_for_like_query(search)}%"
        params += [pattern, pattern]
    if last_id is not None:
        conditions.append("i.id < %s")
        params.append(last_id)
    sql = f"{_invoice_summary_select()} WHERE {' AND '.join(conditions)} ORDER BY i.id DESC LIMIT %s"
    with connection.cursor() as rows:
        rows.execute(sql, [*params, limit + 1])
        return page_of(rows.fetchall(), limit=limit, id_of=itemgetter(0))


@cache
def _invoice_summary_select() -> str:
    invoices, customers = Invoice._meta.db_table, Customer._meta.db_table
    columns = "i.id, i.number, i.customer_id, c.name, i.currency, i.total, i.amount_paid, i.amount_refunded, "
    columns += "i.payment_method, i.status, i.issued_on"
    return f"SELECT {columns} FROM {invoices} i JOIN {customers} c ON c.id = i.customer_id"  # noqa: S608 - names from the models


def _charges_with_refunds():
    return Prefetch(
        "charges",
        queryset=Charge.objects.select_related("payment_method")
        .prefetch_related(Prefetch("refunds", queryset=Refund.objects.select_related("created_by").order_by("id")))
        .order_by("id"),
    )


def invoice_get(*, organization: Organization, invoice_id: int, detail: bool = True) -> Invoice:
    qs = Invoice.objects.filter(organization=organization, pk=invoice_id).select_related("customer")
    if detail:
        qs = qs.prefetch_related(
            "lines", _charges_with_refunds(), Prefetch("credit_notes", queryset=CreditNote.objects.order_by("id"))
        )
    invoice = qs.first()
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def charge_get(*, organization: Organization, charge_id: int, detail: bool = True) -> Charge:
    """detail=False: the charge's row only, for a service that locks and reads what it needs itself (a refund
    request reads the charge again under its lock, with its invoice, organization and refunds)."""
    qs = Charge.objects.filter(organization=organization, pk=charge_id)
    if detail:
        qs = qs.select_related("invoice", "payment_method", "organization").prefetch_related(
            Prefetch("refunds", queryset=Refund.objects.select_related("created_by").order_by("id"))
        )
    charge = qs.first()
    if charge is None:
        raise NotFound("No such charge.")
    return charge


def created_between(date_from: date | None, date_to: date | None) -> dict:
    """Filter arguments for created_at within whole days, in flexbill's time zone."""
    tz = timezone.get_current_timezone()
    bounds = {}
    if date_from:
        bounds["created_at__gte"] = datetime.combine(date_from, time.min, tzinfo=tz)
    if date_to:
        bounds["created_at__lte"] = datetime.combine(date_to, time.max, tzinfo=tz)
    return bounds


def refund_filter(
    *, organization: Organization, charge=None, status=None, origin=None, date_from=None, date_to=None
) -> QuerySet:
    qs = Refund.objects.filter(organization=organization, **created_between(date_from, date_to))
    qs = qs.select_related("created_by", "decided_by")
    if charge:
        qs = qs.filter(charge_id=charge)
    if status:
        qs = qs.filter(status=status)
    if origin:
        qs = qs.filter(origin=origin)
    return qs


def refund_list(*, organization: Organization, filters: dict, cursor: str | None, limit: int = PAGE_SIZE) -> Page:
    return paginate(refund_filter(organization=organization, **filters), cursor=cursor, limit=limit)


def refund_get(*, organization: Organization, refund_id: int) -> Refund:
    """One refund of this organization; NotFound for another organization's, as for one that does not exist."""
    refund = Refund.objects.filter(organization=organization, pk=refund_id).first()
    if refund is None:
        raise NotFound("No such refund.")
    return refund


def refunds_awaiting_approval(*, organization: Organization) -> list[Refund]:
    """The approval queue, oldest first (the first to expire), with what the Approvals page shows of each."""
    return list(
        Refund.objects.filter(organization=organization, status=RefundStatus.AWAITING_APPROVAL)
        .select_related("created_by", "charge__invoice__customer")
        .order_by("created_at", "pk")
    )


def charge_amounts_awaiting_approval(*, charge: Charge) -> list[int]:
    """The amounts of the charge's refunds waiting for approval, oldest first: what marking it refunded withdraws."""
    waiting = Refund.objects.filter(charge=charge, status=RefundStatus.AWAITING_APPROVAL).order_by("pk")
    return list(waiting.values_list("amount", flat=True))


def audit_event_list(
    *, organization: Organization, object_ref: str | None, invoice_id: int | None = None, cursor=None, limit=PAGE_SIZE
) -> Page:
    qs = AuditEvent.objects.filter(organization=organization)
    if object_ref:
        object_type, _, object_id = object_ref.partition(":")
        if not object_type or not object_id:
            raise InvalidInput("object must look like charge:42 or invoice:7.", code="object_invalid")
        qs = qs.filter(object_type=object_type, object_id=object_id)
    if invoice_id is not None:
        qs = qs.filter(invoice_id=invoice_id)
    return paginate(qs, cursor=cursor, limit=limit)


def charges_named_by_stripe(
    *, organization: Organization, charge_ids: set[str], intent_ids: set[str]
) -> Callable[[str | None, str | None], Charge | None]:
    """The organization's charges that Stripe names by charge id or PaymentIntent id, as a lookup: by the charge
    id first, then by the PaymentIntent (a refund may name only the PaymentIntent, and a charge may be known only
    by its PaymentIntent while its charge id is not yet stored). An absent id matches nothing."""
    by_charge_id, by_intent = {}, {}
    charge_ids, intent_ids = {c for c in charge_ids if c}, {i for i in intent_ids if i}
    if charge_ids or intent_ids:
        found = Charge.objects.filter(organization=organization).filter(
            Q(stripe_charge_id__in=charge_ids) | Q(stripe_payment_intent_id__in=intent_ids)
        )
        for charge in found.only("pk", "stripe_charge_id", "stripe_payment_intent_id"):
            if charge.stripe_charge_id:
                by_charge_id[charge.stripe_charge_id] = charge
            if charge.stripe_payment_intent_id:
                by_intent[charge.stripe_payment_intent_id] = charge

    def charge_of(charge_id: str | None, intent_id: str | None) -> Charge | None:
        return (charge_id and by_charge_id.get(charge_id)) or (intent_id and by_intent.get(intent_id)) or None

    return charge_of
