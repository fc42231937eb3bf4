"""Reports and CSV downloads: the refunds report with its charts, and the invoice and refund exports."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from flexbill.accounts.permissions import Permission
from flexbill.billing import exports, selectors
from flexbill.billing.reports import refunds_report
from flexbill.choices import RefundReason, ReportOrigin

from . import charts
from .access import member_view, requires
from .forms import InvoiceFilterForm, RefundExportForm, RefundsReportForm

ORIGIN_LABELS = dict(ReportOrigin.choices)
REASON_LABELS = dict(RefundReason.choices)


@require_GET
@member_view
@requires(Permission.INVOICES_VIEW)
def refunds_report_page(request):
    form = RefundsReportForm(request.GET)
    context = {"form": form, "report": None}
    if form.is_valid():
        report = refunds_report(
            organization=request.membership.organization,
            date_from=form.cleaned_data.get("from"),
            date_to=form.cleaned_data.get("to"),
        )
        context.update(
            report=report,
            month_charts=charts.column_charts(report.per_month, fill_months=True, label=charts.month_label),
            reason_charts=charts.bar_charts(report.per_reason, label=lambda key: REASON_LABELS.get(key, key)),
            origin_charts=charts.bar_charts(report.per_origin, label=lambda key: ORIGIN_LABELS.get(key, key)),
        )
    return render(request, "web/refunds_report.html", context)


@require_GET
@member_view
@requires(Permission.INVOICES_VIEW)
def invoices_csv(request):
    """The invoice list as CSV, filtered by the list page's own GET parameters."""
    filters = InvoiceFilterForm(request.GET).filters()
    qs = selectors.invoice_filter(organization=request.membership.organization, **filters)
    return exports.csv_response("invoices.csv", exports.INVOICE_COLUMNS, exports.invoice_rows(qs))


@require_GET
@member_view
@requires(Permission.INVOICES_VIEW)
def refunds_csv(request):
    filters = RefundExportForm(request.GET).filters()
    qs = selectors.refund_filter(organization=request.membership.organization, **filters)
    return exports.csv_response("refunds.csv", exports.REFUND_COLUMNS, exports.refund_rows(qs))
