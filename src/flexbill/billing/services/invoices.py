import re
import unicodedata
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from flexbill.accounts.models import Organization
from flexbill.audit.services import Actor, audit_record
from flexbill.currencies import normalize_currency
from flexbill.errors import Conflict, InvalidInput

from .. import rules
from ..models import Customer, Invoice, InvoiceLine, InvoiceNumberSequence, InvoicePaymentMethod, InvoiceStatus

MAX_LINES = 200
MAX_AMOUNT = 10**12  # minor units: ten billion in a two-decimal currency, far beyond any workspace invoice
MAX_NUMBER = 40
AUTOMATIC_NUMBER = re.compile(r"^INV-(\d{6,})$")
# Control, format (zero-width, direction overrides), surrogate, private-use, unassigned code points and line or
# paragraph separators: invisible or line-breaking in a number that is printed, searched and exported to CSV.
UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def validate_currency(currency: object) -> str:
    code = normalize_currency(currency)
    if code is None:
        raise InvalidInput(
            f"currency {str(currency)[:10]!r} is not one Stripe can charge: give an ISO 4217 currency code "
            "such as usd, eur or gbp.",
            code="currency_invalid",
        )
    return code


def validate_number(number: object) -> str:
    """A hand-given invoice number: 1 to 40 printable characters, surrounding spaces removed."""
    if not isinstance(number, str) or not number.strip() or len(number.strip()) > MAX_NUMBER:
        raise InvalidInput(f"number must be 1 to {MAX_NUMBER} characters.", code="number_invalid")
    if any(unicodedata.category(ch) in UNPRINTABLE for ch in number):
        raise InvalidInput(
            "number must not contain control characters (new lines, tabs, NUL or invisible characters).",
            code="number_invalid",
        )
    return number.strip()


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
    status: str = InvoiceStatus.AWAITING_PAYMENT,
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
    if number is not None:
        number = validate_number(number)
    with transaction.atomic():
        invoice = _insert_numbered(
            number=number,
            organization=organization,
            customer=customer,
            currency=currency,
            total=total,
            payment_method=payment_method,
            status=status,
            issued_on=issued_on or timezone.localdate(),
        )
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


def _taken(number: str) -> Conflict:
    return Conflict(f"Invoice number {number} is already used.", code="number_taken")


def _insert_numbered(*, number: str | None, organization: Organization, **fields) -> Invoice:
    """Insert the invoice with the number given (409 when taken) or the next free automatic one."""
    if number is not None:
        if Invoice.objects.filter(organization=organization, number=number).exists():
            raise _taken(number)
        try:
            with transaction.atomic():  # a savepoint: the caller's transaction survives a lost race
                return Invoice.objects.create(organization=organization, number=number, **fields)
        except IntegrityError as exc:
            # Another request took the same number between the check and the insert.
            raise _taken(number) from exc
    sequence = _lock_sequence(organization)
    for _ in range(10):
        candidate = _first_free(organization, sequence.next_value)
        sequence.next_value = candidate + 1
        try:
            with transaction.atomic():
                invoice = Invoice.objects.create(organization=organization, number=_format(candidate), **fields)
        except IntegrityError:
            # Someone gave this number by hand in a transaction not yet visible to the check: take the next.
            continue
        sequence.save(update_fields=["next_value"])
        return invoice
    raise Conflict("No free invoice number could be found; try again.", code="number_taken")


def _format(value: int) -> str:
    return f"INV-{value:06d}"


def _lock_sequence(organization: Organization) -> InvoiceNumberSequence:
    """The organization's number sequence, locked until the caller's transaction ends (created on first use)."""
    sequence = InvoiceNumberSequence.objects.select_for_update().filter(organization=organization).first()
    if sequence is not None:
        return sequence
    start = 1 + max(
        (
            int(m.group(1))
            for n in Invoice.objects.filter(organization=organization, number__startswith="INV-").values_list(
                "number", flat=True
            )
            if (m := AUTOMATIC_NUMBER.match(n))
        ),
        default=0,
    )
    try:
        with transaction.atomic():
            InvoiceNumberSequence.objects.create(organization=organization, next_value=start)
    except IntegrityError:
        pass  # created by a concurrent first invoice of this organization: lock theirs
    return InvoiceNumberSequence.objects.select_for_update().get(organization=organization)


def _first_free(organization: Organization, start: int, window: int = 50) -> int:
    """The first automatic number from `start` not already used (numbers given by hand can take any of them)."""
    while True:
        candidates = {_format(v): v for v in range(start, start + window)}
        used = set(
            Invoice.objects.filter(organization=organization, number__in=list(candidates)).values_list(
                "number", flat=True
            )
        )
        free = [v for n, v in candidates.items() if n not in used]
        if free:
            return free[0]
        start += window
