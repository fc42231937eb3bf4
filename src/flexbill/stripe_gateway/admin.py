from django.contrib import admin

from .models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "org_slug", "event_type", "event_id", "verified", "processed_at", "outcome")
    list_filter = ("verified", "event_type")
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
