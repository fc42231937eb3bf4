"""Audit rows as people read them: each with its sentence (audit/sentences.py), for the UI's audit trail and the
API's `summary`. The names a page of sentences needs are read in one query per kind of object, never per row."""

from dataclasses import dataclass

from flexbill.accounts.models import Organization
from flexbill.billing.models import Charge, Invoice, Refund, WebhookEvent

from .models import AuditEvent
from .sentences import AuditNames, ChargeName, InvoiceName, RefundName, StripeEventName, audit_sentence


@dataclass(frozen=True)
class AuditEntry:
    event: AuditEvent
    summary: str


def audit_entries(*, organization: Organization, events: list[AuditEvent]) -> list[AuditEntry]:
    """The organization's audit rows, each with its sentence, money written in the organization's locale."""
    names = audit_names(organization=organization, events=events)
    return [AuditEntry(event, audit_sentence(event, names=names, locale=organization.locale)) for event in events]


def audit_names(*, organization: Organization, events: list[AuditEvent]) -> AuditNames:
    def ids(object_type: str) -> set[int]:
        return {int(e.object_id) for e in events if e.object_type == object_type and str(e.object_id).isdigit()}

    invoice_ids = {e.invoice_id for e in events if e.invoice_id is not None}
    invoices = Invoice.objects.filter(organization=organization, pk__in=invoice_ids).only("number", "currency")
    charges = Charge.objects.filter(organization=organization, pk__in=ids("charge")).only(
        "stripe_charge_id",
        "source",
        "payment_method_type",
        "payment_method_brand",
        "payment_method_bank",
        "payment_method_last4",
    )
    refunds = Refund.objects.filter(organization=organization, pk__in=ids("refund")).only(
        "amount", "currency", "stripe_refund_id"
    )
    stripe_events = WebhookEvent.objects.filter(organization=organization, pk__in=ids("webhookevent")).only(
        "event_id", "event_type"
    )
    return AuditNames(
        invoices={i.pk: InvoiceName(number=i.number, currency=i.currency) for i in invoices},
        charges={
            str(c.pk): ChargeName(
                stripe_charge_id=c.stripe_charge_id or "", source=c.source, payment_method=c.payment_method_label
            )
            for c in charges
        },
        refunds={
            str(r.pk): RefundName(amount=r.amount, currency=r.currency, stripe_refund_id=r.stripe_refund_id or "")
            for r in refunds
        },
        stripe_events={
            str(e.pk): StripeEventName(event_id=e.event_id or "", event_type=e.event_type) for e in stripe_events
        },
    )
