from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "flexbill_demo"
    label = "flexbill_demo"
