"""Forms of bulk refunds: which invoices are selected in the list, and how much each charge is refunded."""

import re

from django import forms

from flexbill.billing.services.refunds import MAX_NOTE
from flexbill.choices import RefundBatchAmount, RefundReason
from flexbill.refund_batches.rules import MAX_CHARGES

from .forms import InvoiceFilterForm
from .idempotency_keys import IdempotencyKeyField

_ID_LIST = re.compile(r"^[0-9]{1,19}(,[0-9]{1,19})*$")


class InvoiceSelectionForm(InvoiceFilterForm):
    """The invoice list's selection: the ticked invoices (`invoice`, repeated), or every invoice matching the list's
    filters (`all_matching`)."""

    all_matching = forms.BooleanField(required=False)

    def filters(self) -> dict:
        """The list's filters alone, as the invoice list reads them."""
        return {name: value for name, value in super().filters().items() if name != "all_matching"}

    def invoice_ids(self) -> list[int]:
        raw = self.data.getlist("invoice") if hasattr(self.data, "getlist") else []
        return [int(v) for v in raw if re.fullmatch(r"[0-9]{1,18}", v)]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("all_matching") and not self.invoice_ids():
            raise forms.ValidationError("Tick the invoices to refund, or select all matching the filter.")
        return cleaned


class BulkRefundForm(forms.Form):
    """How much each charge is refunded (all that remains, or a whole percent of the charge), why, and a note."""

    amount_mode = forms.ChoiceField(
        choices=RefundBatchAmount.choices,
        initial=RefundBatchAmount.FULL,
        widget=forms.RadioSelect,
        label="Amount",
    )
    percent = forms.CharField(
        required=False,
        label="Percent",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": 4}),
        help_text="A whole number from 1 to 100; each refund is rounded half up to a whole cent (or yen).",
    )
    reason = forms.ChoiceField(choices=RefundReason.choices, initial=RefundReason.REQUESTED_BY_CUSTOMER)
    note = forms.CharField(required=False, max_length=MAX_NOTE, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_percent(self):
        text = (self.cleaned_data.get("percent") or "").strip()
        if self.data.get("amount_mode") != RefundBatchAmount.PERCENT:
            return None
        # Digits 0-9 only: Python's int() would also read other scripts' digits ("٥٠").
        if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= 100:
            raise forms.ValidationError("Type a whole percentage from 1 to 100, like 50.", code="percent_invalid")
        return int(text)


class BatchCreateForm(BulkRefundForm):
    """The preview's "Start refund": the charges exactly as previewed, as one comma-separated field, and the
    preview's one-time key: a double click or the browser sending the form again starts one batch, not two."""

    charges = forms.CharField(widget=forms.HiddenInput, max_length=20 * MAX_CHARGES + 20)
    idempotency_key = IdempotencyKeyField(expired="This form has expired; update the preview and start again.")

    def clean_charges(self):
        ids = parse_ids(self.cleaned_data["charges"])
        if ids is None:
            raise forms.ValidationError("The selection was damaged; select the invoices again.", code="charges")
        return ids

    def clean_charges_or_none(self) -> list[int] | None:
        """The charges field as sent, whether or not the rest of the form is valid."""
        return parse_ids(str(self.data.get("charges", ""))[: 20 * MAX_CHARGES + 20])


def parse_ids(text: str) -> list[int] | None:
    """ "12,13,14" → [12, 13, 14]; None for anything else."""
    if not _ID_LIST.match(text):
        return None
    return [int(part) for part in text.split(",")]
