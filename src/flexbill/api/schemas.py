"""Request and response shapes of the REST API (they are also its OpenAPI schema)."""

import datetime as dt
import json
from datetime import date, datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Header, Query, Schema
from pydantic import Strict

from flexbill.billing.idempotency import MAX_KEY
from flexbill.billing.rules import MAX_AMOUNT
from flexbill.choices import ChargeSource, ChargeStatus, RecordedRefundMethod, RefundReason

# Money is a whole number of minor units: strict, so "100", 1.5 and true are refused, not coerced.
Amount = Annotated[int, Strict(), Field(ge=1, le=MAX_AMOUNT)]
MAX_ID = 2**63 - 1
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]


NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
SearchText = Annotated[str | None, Query(max_length=200, pattern=NO_NUL)]

# The key is checked by the service (billing/idempotency.py), not here, so every endpoint taking it refuses a bad
# one with the same code and sentence (400 idempotency_key_invalid); the schema only describes the rule.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=f"1 to {MAX_KEY} characters. A repeat with the same body answers with what the first request made.",
    ),
]


def body_as_received(request: HttpRequest) -> dict:
    """The JSON object the client sent, unknown fields included (the API's parser already accepted it): what a
    repeated Idempotency-Key must repeat, field for field."""
    return json.loads(request.body) if request.body else {}


class Error(Schema):
    detail: str
    code: str


class CustomerIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)


class CustomerOut(Schema):
    id: int
    name: str
    email: str
    stripe_customer_id: str | None


class PaymentMethodIn(Schema):
    stripe_payment_method: str = Field(min_length=3, max_length=255)


class PaymentMethodOut(Schema):
    id: int
    customer: int
    type: str
    brand: str
    bank_name: str
    last4: str
    label: str  # "Visa ···· 4242"
    stripe_payment_method_id: str


class LineIn(Schema):
    description: str = Field(min_length=1, max_length=500)
    amount: Amount


class InvoiceIn(Schema):
    customer: Id
    currency: str = Field(min_length=3, max_length=3)
    payment_method: str = Field(max_length=20)
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    number: str | None = Field(default=None, max_length=40)


class RefundOut(Schema):
    id: int
    charge: int
    amount: int
    currency: str
    status: str
    reason: str
    note: str
    origin: str
    stripe_refund_id: str | None
    failure_reason: str
    created_by: str | None
    created_at: datetime
    decided_by: str | None = Field(description="Who approved or rejected it, when it waited for approval")
    decided_at: datetime | None


class RefundRejectIn(Schema):
    reason: str = Field(max_length=10000, description="Why the refund is rejected (1-500 characters once trimmed)")


class ChargeOut(Schema):
    id: int
    invoice: int
    amount: int
    currency: str
    status: str
    display_status: str
    source: str
    reference: str
    payment_method_type: str
    payment_method_label: str  # what people call it: "Visa ···· 4242", "SEPA Direct Debit ···· 3000"
    stripe_charge_id: str | None
    stripe_payment_intent_id: str | None
    failure_message: str
    charged_at: datetime
    amount_refunded: int
    amount_refund_pending: int
    refundable_amount: int
    marked_refunded: bool
    refunds: list[RefundOut]


class CreditNoteOut(Schema):
    id: int
    number: str
    invoice: int
    amount: int
    currency: str
    reason: str
    refund_method: str
    refund_reference: str
    refunded_on: date | None
    refund: int | None
    created_at: datetime


class LineOut(Schema):
    description: str
    amount: int


class InvoiceSummary(Schema):
    id: int
    number: str
    customer: int
    customer_name: str
    currency: str
    total: int
    amount_paid: int
    amount_refunded: int
    payment_method: str
    status: str
    issued_on: date


class InvoiceOut(InvoiceSummary):
    lines: list[LineOut]
    charges: list[ChargeOut]
    credit_notes: list[CreditNoteOut]


class InvoicePage(Schema):
    items: list[InvoiceSummary]
    next_cursor: str | None


class ChargeIn(Schema):
    source: Literal[tuple(ChargeSource.values)]  # type: ignore[valid-type]
    payment_method: Id | None = None
    amount: Amount | None = None
    reference: str = Field(default="", max_length=255)


class RefundIn(Schema):
    amount: Amount | None = None
    reason: Literal[tuple(RefundReason.values)] = RefundReason.REQUESTED_BY_CUSTOMER.value  # type: ignore[valid-type]
    note: str = Field(default="", max_length=1000)
    credit_note: Annotated[bool, Strict()] = False
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class RefundPage(Schema):
    items: list[RefundOut]
    next_cursor: str | None


class ChargeStatusIn(Schema):
    status: Literal[ChargeStatus.REFUNDED.value]


class RecordedRefundIn(Schema):
    method: Literal[tuple(RecordedRefundMethod.values)]  # type: ignore[valid-type]
    reference: str = Field(default="", max_length=255)
    date: dt.date | None = None


class CreditNoteIn(Schema):
    amount: Amount
    reason: str = Field(min_length=1, max_length=500)
    refund: RecordedRefundIn | None = None


class StripeRefundOut(Schema):
    id: str
    amount: int
    currency: str
    status: str
    failure_reason: str
    created: datetime | None


class ChargeDetailsOut(Schema):
    stripe_charge_id: str
    stripe_payment_intent_id: str | None
    amount: int
    amount_refunded: int
    currency: str
    status: str
    created: datetime | None
    stripe_customer_id: str | None
    payment_method_type: str
    payment_method_label: str
    card_brand: str
    last4: str
    refunds: list[StripeRefundOut]


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor: str
    actor_type: str
    action: str
    object: str
    before: dict | None
    after: dict | None
    message: str
    summary: str  # the row as a sentence: "Refunded €50.00 of INV-000014 — requested by customer"


class AuditPage(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None
