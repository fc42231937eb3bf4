from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "flexbill.audit"
    label = "audit"
