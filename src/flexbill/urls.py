from django.contrib import admin
from django.urls import include, path

from flexbill.api.v1 import api
from flexbill.stripe_gateway.views import stripe_webhook

urlpatterns = [
    path("api/", api.urls),
    path("webhooks/stripe/<slug:org_slug>/", stripe_webhook, name="stripe_webhook"),
    path("platform/", admin.site.urls),
    path("", include("flexbill.web.urls")),
]
