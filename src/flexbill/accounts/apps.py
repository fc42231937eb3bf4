from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "flexbill.accounts"
    label = "accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from .web_sessions import on_signed_in, on_signed_out

        user_logged_in.connect(on_signed_in, dispatch_uid="flexbill.accounts.session_signed_in")
        user_logged_out.connect(on_signed_out, dispatch_uid="flexbill.accounts.session_signed_out")
