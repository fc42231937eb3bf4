from django.apps import AppConfig


class StripeGatewayConfig(AppConfig):
    name = "flexbill.stripe_gateway"
    label = "stripe_gateway"
