from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "flexbill.accounts"
    label = "accounts"
