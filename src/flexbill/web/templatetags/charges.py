"""How a charge's status reads on screen; the decision itself is billing.rules.charge_display_status."""

from django import template

from flexbill import choices
from flexbill.billing.rules import charge_display_status, mark_refunded_refusal
from flexbill.billing.services.derive import invoice_figures
from flexbill.choices import ChargeDisplayStatus

register = template.Library()


@register.inclusion_tag("web/partials/charge_status.html")
def charge_status(charge):
    key = charge_display_status(
        status=charge.status,
        amount=charge.amount,
        amount_refunded=charge.amount_refunded,
        amount_refund_pending=charge.amount_refund_pending,
    )
    return {"key": key, "label": ChargeDisplayStatus(key).label, "charge": charge, "choices": choices}


@register.filter
def can_mark_refunded(charge, invoice) -> bool:
    """Offer "Change status" and "Delete" only where the service would accept them."""
    return mark_refunded_refusal(charge, invoice=invoice_figures(invoice)) is None
