"""Forms of the settings pages: they read what people type; accounts and stripe_gateway decide what is allowed."""

from django import forms

from flexbill.accounts.organization_rules import COMMON_LOCALES, MAX_NAME
from flexbill.currencies import STRIPE_CURRENCIES

from .forms import CurrencyForm, MoneyField


class DomainErrorForm(forms.Form):
    ERROR_FIELDS: dict[str, str] = {}

    def add_domain_error(self, exc) -> None:
        """Show a service's refusal next to the field it is about, or above the form."""
        self.add_error(self.ERROR_FIELDS.get(exc.code), exc.detail)


class PreferencesForm(DomainErrorForm):
    name = forms.CharField(max_length=MAX_NAME, label="Organization name")
    default_currency = forms.ChoiceField(
        choices=[(c, c.upper()) for c in sorted(STRIPE_CURRENCIES)],
        label="Default currency",
        help_text="Of new invoices; an invoice may still be in any currency Stripe charges.",
    )
    # Free text with suggestions: any locale babel knows is accepted, the common ones are offered.
    locale = forms.CharField(
        max_length=40,
        label="Locale for money",
        help_text="How staff type and read amounts: en_US writes 1,234.50, de_DE 1.234,50.",
        widget=forms.TextInput(attrs={"list": "common-locales", "autocomplete": "off", "spellcheck": "false"}),
    )
    refund_emails_enabled = forms.BooleanField(required=False, label="E-mail customers when a refund succeeds")

    ERROR_FIELDS = {"name_invalid": "name", "currency_invalid": "default_currency", "locale_invalid": "locale"}
    common_locales = COMMON_LOCALES


class ApprovalThresholdForm(CurrencyForm):
    """The refund approval threshold, typed in the organization's default currency and locale; empty turns
    approvals off."""

    amount = MoneyField(max_length=30, required=False, label="Refunds that need approval start at")


class _SecretInput(forms.PasswordInput):
    """Write-only: never rendered back (render_value=False), and not offered to password managers or autofill."""

    def __init__(self, placeholder: str):
        super().__init__(
            render_value=False,
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off", "placeholder": placeholder},
        )


class SecretKeyForm(DomainErrorForm):
    secret_key = forms.CharField(
        max_length=1000, label="Secret key", strip=False, widget=_SecretInput("sk_test_… or sk_live_…")
    )
    ERROR_FIELDS = {
        "secret_missing": "secret_key",
        "secret_invalid": "secret_key",
        "secret_key_invalid": "secret_key",
        "secret_key_refused": "secret_key",
    }


class WebhookSecretForm(DomainErrorForm):
    webhook_secret = forms.CharField(
        max_length=1000, label="Signing secret", strip=False, widget=_SecretInput("whsec_…")
    )
    ERROR_FIELDS = {
        "secret_missing": "webhook_secret",
        "secret_invalid": "webhook_secret",
        "webhook_secret_invalid": "webhook_secret",
    }
