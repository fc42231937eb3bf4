from django.contrib import admin
from django.urls import include, path, re_path

from flexbill.api.stripe_webhook import stripe_webhook
from flexbill.api.v1 import api

urlpatterns = [
    path("api/", api.urls),
    # With or without the trailing slash (Stripe does not follow redirects), and any slug: an unknown or malformed
    # one gets the same answer as a bad signature.
    re_path(r"^webhooks/stripe/(?P<org_slug>[^/]+)/?$", stripe_webhook, name="stripe_webhook"),
    path("platform/", admin.site.urls),
    path("", include("flexbill.web.urls")),
]
