"""Forms of the admin UI: they parse what people type; the billing services decide what is allowed."""

from datetime import date

from django import forms

from flexbill.choices import (
    InvoicePaymentMethod,
    InvoiceStatus,
    RecordedRefundMethod,
    RefundOrigin,
    RefundReason,
    RefundStatus,
)
from flexbill.outgoing.models import EVENT_TYPES

from .idempotency_keys import IdempotencyKeyField
from .money import DEFAULT_LOCALE, AmountError, parse_major, to_major


class InvoiceFilterForm(forms.Form):
    payment_method = forms.ChoiceField(
        choices=[("", "All payment methods"), *InvoicePaymentMethod.choices], required=False
    )
    status = forms.ChoiceField(choices=[("", "All statuses"), *InvoiceStatus.choices], required=False)
    search = forms.CharField(required=False, max_length=100, label="Customer or number")

    def filters(self) -> dict:
        """The valid filters only: a bookmarked URL with a stale value still shows a list."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) for name in self.fields if self.cleaned_data.get(name)}


class MoneyField(forms.CharField):
    """An amount typed in major units the organization's way ("12.50", "12,50"), cleaned to integer minor units of
    the form's currency by the one parser of typed amounts."""

    def __init__(self, *, currency: str = "usd", locale: str = DEFAULT_LOCALE, **kwargs):
        self.currency, self.locale = currency, locale
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value)
        if not text and not self.required:
            return None
        try:
            return parse_major(text, self.currency, self.locale)
        except AmountError as exc:
            raise forms.ValidationError(str(exc), code="amount") from exc

    def prepare_value(self, value):
        """Minor units given as initial are written the way the parser reads them back."""
        if isinstance(value, int) and not isinstance(value, bool):
            return to_major(value, self.currency, self.locale)
        return value


class CurrencyForm(forms.Form):
    """A form with one amount in the given currency, typed the way the organization's locale writes numbers."""

    def __init__(self, *args, currency: str, locale: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency, self.locale = currency, locale
        self.fields["amount"].currency = currency
        self.fields["amount"].locale = locale

    def add_domain_error(self, exc, fields: dict) -> None:
        """Show a service's refusal next to the field it is about, or above the form."""
        self.add_error(fields.get(exc.code), exc.detail)


class RefundForm(CurrencyForm):
    """Send refund, with the dialog's one-time key: the same dialog sent twice makes one refund (docs/rules.md,
    rule 13)."""

    amount = MoneyField(max_length=30)
    reason = forms.ChoiceField(choices=RefundReason.choices, initial=RefundReason.REQUESTED_BY_CUSTOMER)
    note = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
    credit_note = forms.BooleanField(required=False, label="Also issue a credit note for this amount")
    idempotency_key = IdempotencyKeyField(
        expired="This form had expired, so nothing was refunded. Check the refund and press Send Refund again."
    )

    ERROR_FIELDS = {
        "amount_too_large": "amount",
        "amount_invalid": "amount",
        "currency_mismatch": "amount",
        "refunds_exceed_paid": "amount",
        "reason_invalid": "reason",
        "note_invalid": "note",
    }


class CreditNoteForm(CurrencyForm):
    prefix = "credit_note"  # the invoice page also holds the refund form in its dialog: keep ids apart

    amount = MoneyField(max_length=30)
    reason = forms.CharField(max_length=500)
    refund_method = forms.ChoiceField(
        choices=[
            ("", "No money returned (credit only)"),
            *RecordedRefundMethod.choices,
        ],
        required=False,
        label="Money returned by",
    )
    refund_reference = forms.CharField(required=False, max_length=255, label="Reference")
    refunded_on = forms.DateField(required=False, label="Returned on", widget=forms.DateInput(attrs={"type": "date"}))

    ERROR_FIELDS = {
        "amount_invalid": "amount",
        "amount_too_large": "amount",
        "refunds_exceed_paid": "amount",
        "reason_invalid": "reason",
        "refund_method_invalid": "refund_method",
        "reference_invalid": "refund_reference",
    }


EARLIEST_DATE, LATEST_DATE = date(1970, 1, 1), date(9998, 12, 31)  # beyond these a date cannot be a refund's


class ReportDateField(forms.DateField):
    widget = forms.DateInput(attrs={"type": "date"})
    default_error_messages = {"invalid": "Enter a date like 2025-01-31."}

    def clean(self, value):
        day = super().clean(value)
        if day and not EARLIEST_DATE <= day <= LATEST_DATE:
            raise forms.ValidationError("Enter a date between 1970 and 9998.", code="out_of_range")
        return day


class RefundsReportForm(forms.Form):
    """?from=YYYY-MM-DD&to=YYYY-MM-DD, the same names as the API's report."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = ReportDateField(required=False, label="From")
        self.fields["to"] = ReportDateField(required=False, label="To")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("from") and cleaned.get("to") and cleaned["from"] > cleaned["to"]:
            raise forms.ValidationError("The start date must not be after the end date.", code="date_range_invalid")
        return cleaned


class RefundExportForm(RefundsReportForm):
    """The report's date range (from/to), plus status and origin."""

    status = forms.ChoiceField(choices=[("", "All statuses"), *RefundStatus.choices], required=False)
    origin = forms.ChoiceField(choices=[("", "All origins"), *RefundOrigin.choices], required=False)
    FILTER_NAMES = {"status": "status", "origin": "origin", "from": "date_from", "to": "date_to"}

    def filters(self) -> dict:
        """The valid filters only, like the invoice list's."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {arg: cleaned[name] for name, arg in self.FILTER_NAMES.items() if cleaned.get(name)}


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(max_length=500, label="URL", widget=forms.URLInput(attrs={"placeholder": "https://"}))
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        help_text="None ticked: every event.",
    )

    ERROR_FIELDS = {"url_invalid": "url", "event_invalid": "event_types"}

    def add_domain_error(self, exc, fields: dict) -> None:
        self.add_error(fields.get(exc.code), exc.detail)
