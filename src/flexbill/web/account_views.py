"""Joining and keeping access: accepting an invitation, forgotten passwords (Django's reset views, an e-mailed
link) and changing one's password."""

from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from flexbill.accounts import team
from flexbill.accounts.password_resets import PasswordResetThrottled, password_reset_reserve
from flexbill.accounts.passwords import password_changed_record
from flexbill.accounts.sign_in.client_address import client_address
from flexbill.accounts.sign_in.identity import sign_in_identity
from flexbill.errors import InvalidInput, PermissionDenied

from .access import error_page
from .settings_forms import ExistingPasswordForm, IdentityPasswordResetForm, NewPasswordForm

BACKEND = "flexbill.accounts.backends.ThrottledEmailBackend"


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    try:
        member = team.invitation_get(token=token)
    except InvalidInput as exc:
        return error_page(request, status=400, title="Invitation not valid", detail=exc.detail)
    has_password = member.user.has_usable_password()
    form_class = ExistingPasswordForm if has_password else NewPasswordForm
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if has_password:
                # Through the throttled backend, like every sign-in: an invitation link is no way round the limit.
                user = authenticate(request, username=member.user.username, password=form.cleaned_data["password"])
                if user is None:
                    raise PermissionDenied("That is not the password of this account.")
                member = team.invitation_accept(token=token, new_password=None, password_checked=True)
            else:
                member = team.invitation_accept(token=token, new_password=form.cleaned_data["password1"])
        except ValidationError as exc:  # a throttled attempt
            form.add_error(None, " ".join(exc.messages))
        except PermissionDenied as exc:
            form.add_error("password" if has_password else None, exc.detail)
        except InvalidInput as exc:
            if exc.code == "invitation_invalid":
                return error_page(request, status=400, title="Invitation not valid", detail=exc.detail)
            form.add_domain_error(exc)
        else:
            login(request, member.user, backend=BACKEND)
            messages.success(request, f"Welcome to {member.organization.name}.")
            return redirect("web:invoice_list")
    return render(
        request,
        "web/invitation.html",
        {"member": member, "form": form, "has_password": has_password},
        status=400 if form.is_bound else 200,
    )


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "web/settings/password_change.html"
    success_url = reverse_lazy("web:settings_index")

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed_record(user=form.user, how="changed")
        messages.success(self.request, "Your password was changed. Your other sessions were signed out.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Sends the link within the limits of accounts/password_resets.py; an account past its share gets no e-mail
    and the requester the same answer as always."""

    template_name = "web/password_reset_form.html"
    form_class = IdentityPasswordResetForm
    email_template_name = "web/email/password_reset.txt"
    subject_template_name = "web/email/password_reset_subject.txt"
    success_url = reverse_lazy("web:password_reset_done")

    def form_valid(self, form):
        identity = sign_in_identity(form.cleaned_data["email"])
        try:
            send = password_reset_reserve(identity=identity, address=client_address(self.request), now=timezone.now())
        except PasswordResetThrottled as exc:
            form.add_error(None, exc)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        if not send:
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "web/password_reset_confirm.html"
    success_url = reverse_lazy("web:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed_record(user=form.user, how="reset")
        return response


password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="web/password_reset_done.html")
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(template_name="web/password_reset_complete.html")
