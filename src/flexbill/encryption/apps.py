from django.apps import AppConfig


class EncryptionConfig(AppConfig):
    """Secrets encrypted at rest (Stripe keys, webhook signing secrets) and the key rotation command."""

    name = "flexbill.encryption"
    label = "encryption"
