"""Domain errors. Services raise these; the API, the UI and the CLI translate them (status, detail, code)."""


class FlexbillError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class InvalidInput(FlexbillError):
    status = 400
    code = "invalid"


class NotFound(FlexbillError):
    status = 404
    code = "not_found"


class PermissionDenied(FlexbillError):
    status = 403
    code = "permission_denied"


class Conflict(FlexbillError):
    status = 409
    code = "conflict"


class StripeFailed(FlexbillError):
    """Stripe refused the request or could not be reached."""

    status = 502
    code = "stripe_error"


class EmailFailed(FlexbillError):
    """An e-mail flexbill must send (an invitation) could not be handed to the mail server; nothing was kept."""

    status = 502
    code = "email_failed"
