"""Every API error has the contract's shape: {"detail": "...", "code": "..."}."""

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from flexbill.errors import FlexbillError


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
        return error(request, exc.status_code, str(exc), "invalid" if exc.status_code < 500 else "error")
