"""Approvals: refunds waiting for a second person (docs/rules.md, rule 21), with Approve and Reject."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from flexbill.accounts.permissions import Permission
from flexbill.billing import selectors
from flexbill.billing.services.approvals import approval_valid_for, refund_approve, refund_reject
from flexbill.errors import FlexbillError

from .access import member_view, requires
from .money import format_money


@require_GET
@member_view
@requires(Permission.INVOICES_VIEW)
def approvals_page(request):
    refunds = selectors.refunds_awaiting_approval(organization=request.membership.organization)
    valid_for = approval_valid_for()
    for refund in refunds:
        refund.expires_at = refund.created_at + valid_for
    context = {
        "refunds": refunds,
        "may_approve": request.membership.has_permission(Permission.REFUNDS_APPROVE),
    }
    return render(request, "web/approvals.html", context)


@require_POST
@member_view
@requires(Permission.REFUNDS_APPROVE)
def approval_approve(request, refund_id: int):
    refund = selectors.refund_get(organization=request.membership.organization, refund_id=refund_id)
    amount = _amount(request, refund)
    try:
        refund = refund_approve(membership=request.membership, refund=refund)
    except FlexbillError as exc:
        messages.error(request, f"Refund {refund_id} of {amount} was not approved: {exc.detail}")
    else:
        messages.success(
            request, f"Approved: the refund of {amount} was sent to Stripe ({refund.get_status_display().lower()})."
        )
    return redirect("web:approvals")


@require_POST
@member_view
@requires(Permission.REFUNDS_APPROVE)
def approval_reject(request, refund_id: int):
    refund = selectors.refund_get(organization=request.membership.organization, refund_id=refund_id)
    amount = _amount(request, refund)
    try:
        refund_reject(membership=request.membership, refund=refund, reason=request.POST.get("reason", ""))
    except FlexbillError as exc:
        messages.error(request, f"Refund {refund_id} of {amount} was not rejected: {exc.detail}")
    else:
        messages.success(request, f"Rejected: the refund of {amount} is canceled and its amount released.")
    return redirect("web:approvals")


def _amount(request, refund) -> str:
    return format_money(refund.amount, refund.currency, request.membership.organization.locale)
