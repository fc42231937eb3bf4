"""Every API error has the contract's shape: {"detail": "...", "code": "..."}.

These handlers cover what happens inside the API's operations; api/middleware.py covers the answers built outside
them (unknown paths, wrong methods)."""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from flexbill.errors import FlexbillError

log = logging.getLogger("flexbill.api")

# django-ninja answers any body its parser cannot read with this text (and nothing more unless DEBUG is on).
_UNPARSEABLE_BODY = "Cannot parse request body"
BODY_NOT_JSON = "The request body must be a JSON object (Content-Type: application/json)."


def _describe(errors: list[dict]) -> str:
    parts = []
    for error in errors[:5]:
        loc = [str(p) for p in error.get("loc", []) if p not in ("body", "payload", "query", "path")]
        where = ".".join(loc) or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def install(api: NinjaAPI) -> None:
    def error(request, status: int, detail: str, code: str):
        return api.create_response(request, {"detail": detail, "code": code}, status=status)

    @api.exception_handler(FlexbillError)
    def flexbill_error(request, exc: FlexbillError):
        return error(request, exc.status, exc.detail, exc.code)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return error(request, 400, _describe(exc.errors), "invalid")

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return error(request, 401, "A valid API token is required (Authorization: Bearer TOKEN).", "unauthenticated")

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return error(request, 404, "Not found.", "not_found")

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc):
        return error(request, 413, "The request body is too large.", "too_large")

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if exc.status_code == 400 and str(exc).startswith(_UNPARSEABLE_BODY):
            # Malformed JSON, a form or multipart body, bytes that are not text: say what the API expects.
            cause = exc.__cause__
            detail = str(cause) if isinstance(cause, BodyRefused) else BODY_NOT_JSON
            return error(request, 400, detail, "invalid")
        return error(request, exc.status_code, str(exc), "invalid" if exc.status_code < 500 else "error")

    @api.exception_handler(Exception)
    def unexpected(request, exc: Exception):
        # A defect, never bad input: logged with its traceback, answered without internals.
        log.exception("Unexpected error answering %s %r", request.method, request.path)
        return error(request, 500, "Internal server error.", "server_error")


class BodyRefused(ValueError):
    """A request body that is JSON but not what any operation takes; its message is the answer's detail."""
