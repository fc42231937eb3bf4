"""POST /webhooks/stripe/<org-slug>/: Stripe's deliveries. Answered as soon as the event is verified and stored."""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from flexbill.billing.services.inbox import webhook_receive
from flexbill.billing.tasks import inbox_apply_soon


@csrf_exempt  # authenticated by Stripe's signature, not by a browser session
def stripe_webhook(request, org_slug: str):
    if request.method != "POST":
        response = JsonResponse({"detail": "Stripe webhooks are POSTed.", "code": "method_not_allowed"}, status=405)
        response["Allow"] = "POST"
        return response
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"detail": "The body is too large.", "code": "too_large"}, status=400)
    outcome = webhook_receive(org_slug=org_slug, body=body, headers=request.headers, on_stored=inbox_apply_soon)
    return JsonResponse({"detail": outcome.detail, "code": outcome.code}, status=outcome.status)
