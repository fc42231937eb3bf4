"""Every error answered under /api/ has the API's shape {"detail": "...", "code": "..."}, including the ones built
outside the API's handlers: a path no route knows (Django's HTML 404), a method the route does not take
(django-ninja's plain-text 405), and whatever Django itself refuses or fails on before or after a handler runs
(a CSRF refusal, a bad Host, a crash in a middleware). The API's own handlers answer JSON already (api/errors.py);
this only rewrites answers that are not JSON, so an integrator never has to parse an HTML page."""

import json

API_PREFIX = "/api/"

# Sentences for answers Django or django-ninja built without the API's error shape; keyed by status.
_ANSWERS = {
    400: ("The request could not be understood.", "invalid"),
    403: ("The request was refused.", "permission_denied"),
    404: ("There is no API endpoint at this path.", "not_found"),
    413: ("The request body is too large.", "too_large"),
    500: ("Internal server error.", "server_error"),
}


def is_api_request(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


class ApiErrorsAsJsonMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not is_api_request(request) or _is_json(response) or response.streaming:
            return response
        detail, code = _describe(request, response)
        # Rewritten in place so that every header set on the way out (Allow, security headers, Vary) is kept.
        response.content = json.dumps({"detail": detail, "code": code})
        response["Content-Type"] = "application/json; charset=utf-8"
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        return response


def _is_json(response) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


def _describe(request, response) -> tuple[str, str]:
    status = response.status_code
    if status == 405:
        allowed = response.get("Allow", "")
        return f"{request.method} is not allowed on this path; allowed: {allowed}.", "method_not_allowed"
    if status in _ANSWERS:
        return _ANSWERS[status]
    return ("Internal server error.", "server_error") if status >= 500 else ("The request was refused.", "invalid")
