from django.apps import AppConfig


class OutgoingConfig(AppConfig):
    name = "flexbill.outgoing"
    label = "outgoing"
