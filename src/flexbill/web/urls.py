from django.contrib.auth import views as auth_views
from django.urls import path

from . import (
    account_views,
    approval_views,
    charge_views,
    organization_settings_views,
    report_views,
    settings_views,
    sync_views,
    views,
    webhook_views,
)
from .access import member_view

app_name = "web"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html",
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", account_views.password_reset_done, name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", account_views.password_reset_complete, name="password_reset_complete"),
    path("invitations/<str:token>/", account_views.invitation_accept, name="invitation_accept"),
    path("settings/", settings_views.settings_index, name="settings_index"),
    path("settings/password/", member_view(account_views.PasswordChangeView.as_view()), name="password_change"),
    path("settings/team/", settings_views.team_page, name="settings_team"),
    path("settings/team/<int:member_id>/role/", settings_views.member_role_change, name="settings_member_role"),
    path("settings/team/<int:member_id>/remove/", settings_views.member_remove, name="settings_member_remove"),
    path("settings/roles/", settings_views.roles_page, name="settings_roles"),
    path("settings/roles/<int:role_id>/", settings_views.role_edit, name="settings_role"),
    path("settings/roles/<int:role_id>/delete/", settings_views.role_delete, name="settings_role_delete"),
    path("settings/api-tokens/", settings_views.tokens_page, name="settings_tokens"),
    path("settings/api-tokens/<int:token_id>/revoke/", settings_views.token_revoke, name="settings_token_revoke"),
    path("", views.invoice_list, name="invoice_list"),
    path("invoices.csv", report_views.invoices_csv, name="invoices_csv"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:invoice_id>/credit-notes/", views.credit_note_create, name="credit_note_create"),
    path("charges/<int:charge_id>/details/", charge_views.charge_details, name="charge_details"),
    path("charges/<int:charge_id>/refund/", charge_views.charge_refund, name="charge_refund"),
    path("charges/<int:charge_id>/refund/preview/", charge_views.charge_refund_preview, name="charge_refund_preview"),
    path(
        "charges/<int:charge_id>/mark-refunded/<str:via>/",
        charge_views.charge_mark_refunded,
        name="charge_mark_refunded",
    ),
    path("approvals/", approval_views.approvals_page, name="approvals"),
    path("approvals/<int:refund_id>/approve/", approval_views.approval_approve, name="approval_approve"),
    path("approvals/<int:refund_id>/reject/", approval_views.approval_reject, name="approval_reject"),
    path("reports/refunds/", report_views.refunds_report_page, name="refunds_report"),
    path("reports/refunds.csv", report_views.refunds_csv, name="refunds_csv"),
    path("settings/organization/", organization_settings_views.organization_preferences, name="settings_organization"),
    path(
        "settings/organization/refund-approvals/",
        organization_settings_views.refund_approval_threshold,
        name="settings_refund_approvals",
    ),
    path("settings/stripe/", organization_settings_views.stripe_settings, name="settings_stripe"),
    path(
        "settings/stripe/secret-key/", organization_settings_views.stripe_secret_key, name="settings_stripe_secret_key"
    ),
    path(
        "settings/stripe/webhook-secret/",
        organization_settings_views.stripe_webhook_secret,
        name="settings_stripe_webhook_secret",
    ),
    path(
        "settings/stripe/test-event/", organization_settings_views.stripe_test_event, name="settings_stripe_test_event"
    ),
    path("integrations/webhooks/", webhook_views.webhook_endpoints, name="webhook_endpoints"),
    path("integrations/stripe-sync/", sync_views.sync_health_page, name="sync_health"),
    path("integrations/stripe-sync/events/<int:event_id>/retry/", sync_views.sync_event_retry, name="sync_event_retry"),
    path(
        "integrations/webhooks/<int:endpoint_id>/",
        webhook_views.webhook_endpoint_detail,
        name="webhook_endpoint_detail",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/pause/",
        webhook_views.webhook_endpoint_pause,
        name="webhook_endpoint_pause",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/resume/",
        webhook_views.webhook_endpoint_resume,
        name="webhook_endpoint_resume",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/delete/",
        webhook_views.webhook_endpoint_delete,
        name="webhook_endpoint_delete",
    ),
    path(
        "integrations/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/resend/",
        webhook_views.webhook_delivery_resend,
        name="webhook_delivery_resend",
    ),
]
