import re
import uuid
from datetime import date

from django.db import transaction
from django.utils import timezone

from flexbill.accounts.models import Organization
from flexbill.audit.services import Actor, audit_record
from flexbill.errors import InvalidInput

from .. import rules
from ..models import Customer, Invoice, InvoiceLine, InvoicePaymentMethod

CURRENCY = re.compile(r"^[a-z]{3}$")
MAX_LINES = 200
MAX_AMOUNT = 10**12  # minor units: ten billion in a two-decimal currency, far beyond any workspace invoice


def validate_currency(currency: object) -> str:
    if not isinstance(currency, str) or not CURRENCY.match(currency.lower()):
        raise InvalidInput("currency must be a three-letter ISO code such as usd or eur.", code="currency_invalid")
    return currency.lower()


def validate_amount(amount: object, *, field: str = "amount") -> int:
    if not rules.is_valid_amount(amount) or amount > MAX_AMOUNT:
        raise InvalidInput(
            f"{field} must be a whole number of minor units (cents) between 1 and {MAX_AMOUNT}.",
            code="amount_invalid",
        )
    return amount


def invoice_create(
    *,
    organization: Organization,
    customer: Customer,
    currency: str,
    payment_method: str,
    lines: list[dict],
    actor: Actor,
    number: str | None = None,
    issued_on: date | None = None,
    status: str = "awaiting_payment",
) -> Invoice:
    currency = validate_currency(currency)
    if payment_method not in InvoicePaymentMethod.values:
        raise InvalidInput(
            f"payment_method must be one of {', '.join(InvoicePaymentMethod.values)}.", code="payment_method_invalid"
        )
    if not lines or len(lines) > MAX_LINES:
        raise InvalidInput(f"An invoice needs between 1 and {MAX_LINES} lines.", code="lines_invalid")
    clean_lines = []
    for i, line in enumerate(lines, start=1):
        description = str(line.get("description") or "").strip()
        if not description or len(description) > 500:
            raise InvalidInput(f"Line {i} needs a description of at most 500 characters.", code="lines_invalid")
        clean_lines.append((description, validate_amount(line.get("amount"), field=f"Line {i} amount")))
    total = sum(amount for _, amount in clean_lines)
    validate_amount(total, field="The invoice total")
    if number is not None and (not number.strip() or len(number) > 40):
        raise InvalidInput("number must be 1 to 40 characters.", code="number_invalid")
    with transaction.atomic():
        invoice = Invoice.objects.create(
            organization=organization,
            number=number or f"pending-{uuid.uuid4().hex}",
            customer=customer,
            currency=currency,
            total=total,
            payment_method=payment_method,
            status=status,
            issued_on=issued_on or timezone.localdate(),
        )
        if number is None:
            invoice.number = f"INV-{invoice.pk:06d}"
            invoice.save(update_fields=["number"])
        InvoiceLine.objects.bulk_create(
            InvoiceLine(invoice=invoice, position=i, description=d, amount=a)
            for i, (d, a) in enumerate(clean_lines, start=1)
        )
        audit_record(
            organization_id=organization.pk,
            actor=actor,
            action="invoice.created",
            obj=invoice,
            after={"number": invoice.number, "total": total, "currency": currency, "status": invoice.status},
            invoice_id=invoice.pk,
        )
    return invoice
