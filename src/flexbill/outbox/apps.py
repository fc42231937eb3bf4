from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "flexbill.outbox"
    label = "outbox"
