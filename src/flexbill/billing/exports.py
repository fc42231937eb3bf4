"""CSV exports, streamed: rows are read in chunks and written as they go, so 100k rows never sit in memory."""

import csv
import unicodedata
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

CHUNK = 2000

INVOICE_COLUMNS = [
    "number",
    "customer",
    "issued_on",
    "currency",
    "total",
    "amount_paid",
    "amount_refunded",
    "payment_method",
    "status",
    "payment_method_label",
]
REFUND_COLUMNS = [
    "id",
    "created_at",
    "invoice",
    "charge",
    "currency",
    "amount",
    "status",
    "reason",
    "origin",
    "stripe_refund_id",
    "created_by",
    "note",
    "payment_method_type",
    "payment_method",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_safe(v) for v in row])


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    """The streamed download served by the API and the admin UI alike."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _safe(value) -> object:
    # Numbers stay numbers (a negative amount is a number to the spreadsheet, not a formula); text is made safe.
    if isinstance(value, str):
        return spreadsheet_text(value)
    return "" if value is None else value


# CSV injection (OWASP): a spreadsheet runs a cell as a formula when it starts with = + - @, and a cell starting
# with a tab, CR or LF can be made to do the same. Spreadsheets also skip leading blanks before the sign and read
# the full-width and small forms (＝ ＋ － ＠, ﹦ ﹢ ﹣ ﹫) as the ASCII ones; U+2212 is a minus sign to them.
_FORMULA_SIGNS = frozenset("=+-@")
_BREAKS_AT_START = frozenset("\t\r\n")
_MINUS_SIGN = "\u2212"


def spreadsheet_text(text: str) -> str:
    """The cell's text with a leading apostrophe if a spreadsheet could take it for a formula: the apostrophe makes
    it text, and the cell still shows what was typed."""
    if text[:1] in _BREAKS_AT_START or _is_formula_sign(_first_visible(text)):
        return "'" + text
    return text


def _first_visible(text: str) -> str:
    for ch in text:
        if not (ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")):
            return ch
    return ""


def _is_formula_sign(ch: str) -> bool:
    return bool(ch) and (ch == _MINUS_SIGN or unicodedata.normalize("NFKC", ch) in _FORMULA_SIGNS)


def invoice_rows(qs: QuerySet) -> Iterator[list]:
    for invoice in qs.select_related("customer").order_by("-id").iterator(chunk_size=CHUNK):
        yield [
            invoice.number,
            invoice.customer.name,
            invoice.issued_on.isoformat(),
            invoice.currency,
            invoice.total,
            invoice.amount_paid,
            invoice.amount_refunded,
            invoice.payment_method,
            invoice.status,
            invoice.get_payment_method_display(),
        ]


def refund_rows(qs: QuerySet) -> Iterator[list]:
    for refund in qs.select_related("charge__invoice", "created_by").order_by("-id").iterator(chunk_size=CHUNK):
        yield [
            refund.pk,
            refund.created_at.isoformat(),
            refund.charge.invoice.number,
            refund.charge_id,
            refund.currency,
            refund.amount,
            refund.status,
            refund.reason,
            refund.origin,
            refund.stripe_refund_id or "",
            refund.created_by.email if refund.created_by else "",
            refund.note,
            refund.charge.payment_method_type,
            refund.charge.payment_method_label,  # what the money goes back to: "Visa ···· 4242"
        ]
