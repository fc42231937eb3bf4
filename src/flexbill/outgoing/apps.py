from django.apps import AppConfig
from django.db.models.signals import post_save


class OutgoingConfig(AppConfig):
    name = "flexbill.outgoing"
    label = "outgoing"

    def ready(self):
        from flexbill.audit.models import AuditEvent

        from .services import on_audit_event

        post_save.connect(on_audit_event, sender=AuditEvent, dispatch_uid="outgoing.on_audit_event")
