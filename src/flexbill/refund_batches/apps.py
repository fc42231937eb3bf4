from django.apps import AppConfig


class RefundBatchesConfig(AppConfig):
    name = "flexbill.refund_batches"
    label = "refund_batches"
