from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "flexbill.notifications"
    label = "notifications"
