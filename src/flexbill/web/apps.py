from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "flexbill.web"
    label = "web"
