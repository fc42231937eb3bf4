from django.contrib import admin

from .api_callers import access_changed
from .models import ApiToken, CustomRole, Membership, Organization


class AccessChangingAdmin(admin.ModelAdmin):
    """Platform staff's edits of roles, memberships and tokens reach cached API callers at once, like the team's."""

    def _organization_id(self, obj) -> int:
        return obj.membership.organization_id if isinstance(obj, ApiToken) else obj.organization_id

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        access_changed(organization_id=self._organization_id(obj))

    def delete_model(self, request, obj):
        organization_id = self._organization_id(obj)
        super().delete_model(request, obj)
        access_changed(organization_id=organization_id)

    def delete_queryset(self, request, queryset):
        organization_ids = {self._organization_id(obj) for obj in queryset}
        super().delete_queryset(request, queryset)
        for organization_id in organization_ids:
            access_changed(organization_id=organization_id)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "refund_sync_enabled", "created_at")
    search_fields = ("slug", "name")
    # Secrets are write-only here: shown neither in lists nor read back on the change page.
    exclude = ()
    # Moved by the workers' periodic reconcile schedule (billing/tasks.py); shown, not edited.
    readonly_fields = ("reconcile_due_at",)

    def get_form(self, request, obj=None, **kwargs):
        from django import forms

        form = super().get_form(request, obj, **kwargs)
        for field in ("stripe_secret_key", "stripe_webhook_secret"):
            form.base_fields[field].widget = forms.PasswordInput(render_value=False)
            form.base_fields[field].required = False
            form.base_fields[field].help_text = "Leave empty to keep the current value."
        return form

    def save_model(self, request, obj, form, change):
        if change:
            previous = Organization.objects.get(pk=obj.pk)
            for field in ("stripe_secret_key", "stripe_webhook_secret"):
                if not form.cleaned_data.get(field):
                    setattr(obj, field, getattr(previous, field))
        super().save_model(request, obj, form, change)
        if change:
            access_changed(organization_id=obj.pk)


@admin.register(CustomRole)
class CustomRoleAdmin(AccessChangingAdmin):
    list_display = ("name", "organization")


@admin.register(Membership)
class MembershipAdmin(AccessChangingAdmin):
    list_display = ("user", "organization", "role", "custom_role")
    list_filter = ("role",)


@admin.register(ApiToken)
class ApiTokenAdmin(AccessChangingAdmin):
    list_display = ("prefix", "membership", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("token_hash", "prefix", "created_at", "last_used_at")
