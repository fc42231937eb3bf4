from django.apps import AppConfig
from django.db.models.signals import post_save


class OutgoingConfig(AppConfig):
    name = "flexbill.outgoing"
    label = "outgoing"

    def ready(self):
        from flexbill.audit.models import AuditEvent
        from flexbill.audit.services import audit_events_recorded

        from .services import on_audit_event, on_audit_events

        post_save.connect(on_audit_event, sender=AuditEvent, dispatch_uid="outgoing.on_audit_event")
        audit_events_recorded.connect(on_audit_events, sender=AuditEvent, dispatch_uid="outgoing.on_audit_events")
