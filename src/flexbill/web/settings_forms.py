"""Forms of the settings pages: they parse what people type; accounts' services decide what is allowed."""

from django import forms
from django.contrib.auth.forms import PasswordResetForm

from flexbill.accounts.models import CustomRole
from flexbill.accounts.permissions import Permission, Role
from flexbill.accounts.sign_in.identity import sign_in_identity


class DomainErrorsForm(forms.Form):
    ERROR_FIELDS: dict[str, str] = {}

    def add_domain_error(self, exc) -> None:
        """Show a service's refusal next to the field it is about, or above the form."""
        self.add_error(self.ERROR_FIELDS.get(exc.code), exc.detail)


def role_choices(organization) -> list[tuple[str, str]]:
    built_in = [(Role.MEMBER.value, "Member (view only)"), (Role.ADMIN.value, "Admin"), (Role.OWNER.value, "Owner")]
    custom = [
        (f"custom:{r.name}", r.name) for r in CustomRole.objects.filter(organization=organization).order_by("name")
    ]
    return built_in + custom


class InviteForm(DomainErrorsForm):
    email = forms.CharField(max_length=254, label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=())
    ERROR_FIELDS = {"invalid_email": "email", "already_member": "email", "unknown_role": "role"}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(organization)


class MemberRoleForm(DomainErrorsForm):
    role = forms.ChoiceField(choices=())
    ERROR_FIELDS = {"unknown_role": "role"}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(organization)


class RoleForm(DomainErrorsForm):
    name = forms.CharField(max_length=100)
    permissions = forms.MultipleChoiceField(
        choices=[(p.value, p.value) for p in Permission], required=False, widget=forms.CheckboxSelectMultiple
    )
    ERROR_FIELDS = {
        "name_required": "name",
        "name_too_long": "name",
        "name_invalid": "name",
        "name_taken": "name",
        "unknown_permission": "permissions",
    }


class TokenForm(DomainErrorsForm):
    name = forms.CharField(max_length=100, label="Name", help_text="What will use it, e.g. “Accounting export”.")
    ERROR_FIELDS = {"name_required": "name", "name_too_long": "name", "name_invalid": "name"}


class NewPasswordForm(DomainErrorsForm):
    """Choosing a password when accepting an invitation; the service runs Django's password validators."""

    password1 = forms.CharField(
        label="Choose a password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Type it again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    ERROR_FIELDS = {"password_invalid": "password1"}

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", "The two passwords differ.")
        return data


class ExistingPasswordForm(DomainErrorsForm):
    password = forms.CharField(
        label="Your flexbill password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class IdentityPasswordResetForm(PasswordResetForm):
    """Finds the account the way sign-in does (sign_in_identity), so every spelling of an e-mail that signs in as
    an account also resets its password. Accounts still waiting to accept an invitation have no password to reset:
    they use the invitation's link."""

    def get_users(self, email):
        from django.contrib.auth import get_user_model

        User = get_user_model()
        identity = sign_in_identity(email)
        return (
            user
            for user in User._default_manager.filter(username=identity, is_active=True)
            if user.has_usable_password()
        )
