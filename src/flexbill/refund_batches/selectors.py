"""Bulk refund reads, always scoped to an organization: a batch with its items, and the preview of a batch."""

from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.utils import timezone

from flexbill.accounts.models import Membership, Organization
from flexbill.accounts.permissions import Permission
from flexbill.billing import approval_rules
from flexbill.billing import rules as billing_rules
from flexbill.billing.models import Charge, Invoice
from flexbill.billing.services.derive import invoice_figures
from flexbill.errors import NotFound

from . import rules
from .models import RefundBatch, RefundBatchItem


def refund_batch_get(*, organization: Organization, batch_id: int) -> RefundBatch:
    batch = RefundBatch.objects.filter(organization=organization, pk=batch_id).select_related("created_by").first()
    if batch is None:
        raise NotFound("No such refund batch.")
    return batch


def refund_batch_items(*, batch: RefundBatch) -> list[RefundBatchItem]:
    return list(batch.items.select_related("charge__invoice__customer", "refund").order_by("position"))


def refund_batch_list(*, organization: Organization, limit: int = 50) -> list[RefundBatch]:
    """The organization's newest refund batches."""
    return list(
        RefundBatch.objects.filter(organization=organization).select_related("created_by").order_by("-id")[:limit]
    )


@dataclass
class PreviewLine:
    charge: Charge
    amount: int = 0
    refusal: str = ""
    needs_approval: bool = False


@dataclass
class Preview:
    """What a batch would do if it ran now: the same checks each refund makes, without sending anything."""

    lines: list[PreviewLine]
    too_many: bool = False  # more charges than a batch holds (max_charges): only the first ones are shown
    max_charges: int = 0
    totals: dict = field(default_factory=dict)  # currency -> minor units that would be refunded

    @property
    def refundable(self) -> list[PreviewLine]:
        return [line for line in self.lines if not line.refusal]

    @property
    def refused(self) -> list[PreviewLine]:
        return [line for line in self.lines if line.refusal]

    @property
    def awaiting_approval(self) -> list[PreviewLine]:
        return [line for line in self.refundable if line.needs_approval]


def charges_of_invoices(*, organization: Organization, invoices) -> list[Charge]:
    """Every charge of the given invoices (a queryset of the organization's invoices), oldest invoice first."""
    invoice_ids = invoices.filter(organization=organization).values("pk")
    return list(
        Charge.objects.filter(organization=organization, invoice_id__in=invoice_ids)
        .select_related("invoice__customer")
        .order_by("invoice_id", "pk")[: rules.MAX_CHARGES + 1]
    )


def charges_by_ids(*, organization: Organization, charge_ids: list[int]) -> list[Charge]:
    """The organization's charges among `charge_ids`, in the order given (others' and unknown ids are left out)."""
    found = Charge.objects.filter(organization=organization, pk__in=charge_ids[: rules.MAX_CHARGES + 1])
    by_id = {charge.pk: charge for charge in found.select_related("invoice__customer")}
    return [by_id[i] for i in charge_ids if i in by_id]


def refund_batch_preview(*, membership: Membership, charges: list[Charge], percent: int | None) -> Preview:
    organization = membership.organization
    can_refund = membership.has_permission(Permission.CHARGES_REFUND)
    threshold = approval_threshold(organization)
    invoices = {
        invoice.pk: invoice
        for invoice in Invoice.objects.filter(pk__in={c.invoice_id for c in charges}).prefetch_related(
            Prefetch("charges"), "credit_notes"
        )
    }
    now = timezone.now()
    preview = Preview(lines=[], too_many=len(charges) > rules.MAX_CHARGES, max_charges=rules.MAX_CHARGES)
    for charge in charges[: rules.MAX_CHARGES]:
        line = PreviewLine(charge=charge)
        amount = None if percent is None else rules.percent_amount(charge.amount, percent)
        if amount == 0:
            line.refusal = rules.percent_refusal_detail(percent)
        else:
            eligibility = billing_rules.refund_eligibility(
                charge,
                now=now,
                can_refund=can_refund,
                amount=amount,
                invoice=invoice_figures(invoices[charge.invoice_id]),
            )
            if eligibility.allowed:
                line.amount = eligibility.amount
                line.needs_approval = approval_rules.refund_needs_approval(
                    amount=line.amount,
                    currency=charge.currency,
                    threshold=threshold,
                    default_currency=organization.default_currency,
                )
                preview.totals[charge.currency] = preview.totals.get(charge.currency, 0) + line.amount
            else:
                line.refusal = eligibility.refusal.sentence
        preview.lines.append(line)
    return preview


def approval_threshold(organization: Organization) -> int | None:
    """The organization's refund approval threshold (minor units of its default currency), None when off."""
    return organization.refund_approval_threshold
