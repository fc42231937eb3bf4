"""Invoice screens: the list with its filters, and the invoice page (lines, payments, credit notes, audit)."""

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from flexbill.accounts.permissions import Permission
from flexbill.audit.selectors import audit_entries
from flexbill.billing import selectors, services
from flexbill.billing.refusals import RefundRefused
from flexbill.errors import Conflict, InvalidInput

from .access import is_htmx, member_view
from .forms import CreditNoteForm, InvoiceFilterForm


@require_GET
@member_view
def invoice_list(request):
    form = InvoiceFilterForm(request.GET)
    cursor_error = None
    try:
        page = selectors.invoice_list(
            organization=request.membership.organization,
            filters=form.filters(),
            cursor=request.GET.get("cursor") or None,
        )
    except InvalidInput:
        page, cursor_error = None, "This page of results is no longer valid; start again from the first page."
    return render(
        request,
        "web/invoice_list.html",
        {"form": form, "page": page, "cursor_error": cursor_error, "is_first_page": not request.GET.get("cursor")},
    )


def invoice_context(request, invoice, *, credit_note_form=None) -> dict:
    membership = request.membership
    return {
        "invoice": invoice,
        "audit_entries": audit_entries(
            organization=membership.organization,
            events=selectors.audit_event_list(
                organization=membership.organization, object_ref=None, invoice_id=invoice.pk
            ).items,
        ),
        "credit_note_form": credit_note_form
        or CreditNoteForm(currency=invoice.currency, locale=membership.organization.locale),
        "can": {
            "refund": membership.has_permission(Permission.CHARGES_REFUND),
            "change_status": membership.has_permission(Permission.CHARGES_CHANGE_STATUS),
            "delete": membership.has_permission(Permission.CHARGES_DELETE),
            "credit_note": membership.has_permission(Permission.CREDIT_NOTES_CREATE),
            "audit": membership.has_permission(Permission.AUDIT_VIEW),
        },
    }


@require_GET
@member_view
def invoice_detail(request, invoice_id: int):
    invoice = selectors.invoice_get(organization=request.membership.organization, invoice_id=invoice_id)
    return render(request, "web/invoice_detail.html", invoice_context(request, invoice))


@require_POST
@member_view
def credit_note_create(request, invoice_id: int):
    organization = request.membership.organization
    invoice = selectors.invoice_get(organization=organization, invoice_id=invoice_id, detail=False)
    form = CreditNoteForm(request.POST, currency=invoice.currency, locale=organization.locale)
    created = None
    if form.is_valid():
        try:
            created = services.credit_note_create(membership=request.membership, invoice=invoice, **form.cleaned_data)
        except (InvalidInput, Conflict, RefundRefused) as exc:
            form.add_domain_error(exc, form.ERROR_FIELDS)
    if created is not None and not is_htmx(request):
        return redirect("web:invoice_detail", invoice_id=invoice.pk)
    invoice = selectors.invoice_get(organization=organization, invoice_id=invoice.pk)
    context = invoice_context(request, invoice, credit_note_form=None if created else form)
    context["credit_note_created"] = created
    template = "web/partials/invoice_body.html" if is_htmx(request) else "web/invoice_detail.html"
    return render(request, template, context)
