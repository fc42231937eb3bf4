"""URLs used by bench.invoices only, to show what the invoice list's answer is made of (never served by flexbill).

- `empty`: Django answering through flexbill's middleware with nothing done: the floor of any Django answer.
- `plain`: the invoice list written as a plain Django view without django-ninja: the same caller check, the same
  statement and the same encoding, with the query parameters read as they are instead of validated."""

import orjson
from django.http import HttpResponse
from django.urls import path

from flexbill.accounts.api_callers import api_caller_for_token
from flexbill.accounts.permissions import Permission
from flexbill.api.serializers import invoice_summaries
from flexbill.billing import selectors
from flexbill.urls import urlpatterns as flexbill_urls


def empty(request):
    return HttpResponse(b"{}", content_type="application/json")


def plain(request):
    _, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    actor, organization = api_caller_for_token(raw_token=token)
    actor.require(Permission.INVOICES_VIEW)
    query = request.GET
    page = selectors.invoice_summary_list(
        organization=organization,
        filters={"status": query.get("status"), "payment_method": query.get("payment_method")},
        cursor=query.get("cursor"),
    )
    body = orjson.dumps({"items": invoice_summaries(page.items), "next_cursor": page.next_cursor})
    return HttpResponse(body, content_type="application/json")


urlpatterns = [path("api/bench/empty", empty), path("api/bench/plain", plain), *flexbill_urls]
