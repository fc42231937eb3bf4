from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "flexbill.billing"
    label = "billing"
