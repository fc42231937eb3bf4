from django.contrib import admin

from .models import Charge, CreditNote, Customer, Invoice, Refund, WebhookEvent


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "organization", "stripe_customer_id")
    search_fields = ("name", "email")


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ("number", "organization", "customer", "total", "currency", "status", "payment_method")
    list_filter = ("status", "payment_method")
    readonly_fields = ("amount_paid", "amount_refunded", "status")


@admin.register(Charge)
class ChargeAdmin(admin.ModelAdmin):
    list_display = ("id", "invoice", "amount", "currency", "status", "source", "payment_method_type")
    list_filter = ("status", "source")
    readonly_fields = ("amount_refunded", "amount_reserved", "status", "payment_status")


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ("id", "charge", "amount", "currency", "status", "origin", "stripe_refund_id")
    list_filter = ("status", "origin")

    def has_change_permission(self, request, obj=None):
        return False  # refunds change only through services, which keep charges and audit in step


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    list_display = ("number", "invoice", "amount", "currency", "refund_method")


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "org_slug",
        "event_type",
        "event_id",
        "verified",
        "processed_at",
        "attempts",
        "outcome",
    )
    list_filter = ("verified", "event_type")
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
