from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "flexbill.ops"
    label = "ops"
