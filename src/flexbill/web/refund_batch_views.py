"""Bulk refund screens: the preview of a selection from the invoice list, and a batch's page with its live progress
and results (CSV too). The batch itself is run by the worker (refund_batches/services.py)."""

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from flexbill.accounts.permissions import Permission
from flexbill.billing import exports, selectors
from flexbill.billing.refusals import RefundRefused
from flexbill.choices import RefundBatchAmount, RefundBatchItemStatus
from flexbill.errors import Conflict, InvalidInput, NotFound
from flexbill.refund_batches import selectors as batch_selectors
from flexbill.refund_batches.exports import RESULT_COLUMNS, result_rows
from flexbill.refund_batches.services import batch_counts, refund_batch_create
from flexbill.refund_batches.tasks import refund_batch_queued

from .access import is_htmx, member_view, requires
from .idempotency_keys import KEY_REUSED, new_idempotency_key, with_new_key
from .refund_batch_forms import BatchCreateForm, BulkRefundForm, InvoiceSelectionForm

# The service's 409 idempotency_key_reused, in the words of the form.
FORM_ALREADY_USED = (
    "This form already started a refund batch with other settings. Nothing more was queued; update the preview to "
    "start another."
)


@require_POST
@member_view
@requires(Permission.CHARGES_REFUND)
def refund_batch_new(request):
    """The preview: what refunding the selection would do, checked as each refund will be. Nothing is sent."""
    organization = request.membership.organization
    if "charges" in request.POST:  # "Update preview" on the preview itself: the charges it already showed
        form = BatchCreateForm(with_new_key(request.POST))
        charge_ids = form.clean_charges_or_none()
        charges = batch_selectors.charges_by_ids(organization=organization, charge_ids=charge_ids or [])
    else:  # from the invoice list
        selection = InvoiceSelectionForm(request.POST)
        if not selection.is_valid():
            return render(request, "web/refund_batch_preview.html", {"selection_error": selection.non_field_errors()})
        if selection.cleaned_data.get("all_matching"):
            invoices = selectors.invoice_filter(organization=organization, **selection.filters())
        else:
            invoices = selectors.invoice_filter(organization=organization).filter(pk__in=selection.invoice_ids())
        charges = batch_selectors.charges_of_invoices(organization=organization, invoices=invoices)
        form = BatchCreateForm(
            initial={
                "amount_mode": RefundBatchAmount.FULL,
                "charges": ",".join(str(c.pk) for c in charges[:1000]),
                "idempotency_key": new_idempotency_key(),
            }
        )
    return _preview(request, form, charges)


def _preview(request, form: BulkRefundForm, charges, *, status: int = 200):
    preview = None
    if not form.is_bound or form.is_valid():
        percent = form.cleaned_data["percent"] if form.is_bound else None
        preview = batch_selectors.refund_batch_preview(membership=request.membership, charges=charges, percent=percent)
    return render(request, "web/refund_batch_preview.html", {"form": form, "preview": preview}, status=status)


@require_http_methods(["GET", "POST"])
@member_view
def refund_batches(request):
    """GET: the organization's recent refund batches; POST: start one (the preview's "Refund N charges")."""
    if request.method == "GET":
        return _batch_list(request)
    return _batch_create(request)


@requires(Permission.INVOICES_VIEW)
def _batch_list(request):
    batches = batch_selectors.refund_batch_list(organization=request.membership.organization)
    return render(request, "web/refund_batches.html", {"batches": batches})


@requires(Permission.CHARGES_REFUND)
def _batch_create(request):
    organization = request.membership.organization
    form = BatchCreateForm(request.POST)
    if form.is_valid():
        try:
            batch = refund_batch_create(
                actor=request.actor,
                charge_ids=form.cleaned_data["charges"],
                percent=form.cleaned_data["percent"],
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                on_queued=refund_batch_queued,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except (InvalidInput, NotFound, Conflict, RefundRefused) as exc:
            if exc.code == KEY_REUSED:  # the same form sent again, changed: a new key to start anew
                form = BatchCreateForm(with_new_key(request.POST))
                form.is_valid()
                form.add_error(None, FORM_ALREADY_USED)
            else:
                form.add_error(None, exc.detail)
            status = exc.status
        else:  # the batch this form started, also when it is sent again (a double click, the browser's retry)
            return redirect("web:refund_batch", batch_id=batch.pk)
    else:
        status = 400
    charge_ids = form.clean_charges_or_none() or []
    charges = batch_selectors.charges_by_ids(organization=organization, charge_ids=charge_ids)
    return _preview(request, form, charges, status=status)


def _batch_context(request, batch_id: int) -> dict:
    batch = batch_selectors.refund_batch_get(organization=request.membership.organization, batch_id=batch_id)
    counts = batch_counts(batch)
    finished = counts["total"] - batch.items.filter(status=RefundBatchItemStatus.PENDING).count()
    return {
        "batch": batch,
        "counts": counts,
        "finished": finished,
        "items": batch_selectors.refund_batch_items(batch=batch),
    }


@require_GET
@member_view
@requires(Permission.INVOICES_VIEW)
def refund_batch_page(request, batch_id: int):
    template = "web/partials/refund_batch_progress.html" if is_htmx(request) else "web/refund_batch.html"
    return render(request, template, _batch_context(request, batch_id))


@require_GET
@member_view
@requires(Permission.INVOICES_VIEW)
def refund_batch_csv(request, batch_id: int):
    batch = batch_selectors.refund_batch_get(organization=request.membership.organization, batch_id=batch_id)
    return exports.csv_response(f"refund-batch-{batch.pk}.csv", RESULT_COLUMNS, result_rows(batch))
