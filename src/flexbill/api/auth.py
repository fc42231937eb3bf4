from ninja.security import HttpBearer

from flexbill.accounts.api_callers import api_caller_for_token


class BearerToken(HttpBearer):
    """Authorization: Bearer TOKEN -> the caller's Actor (request.auth) and organization (api/access.py)."""

    def __call__(self, request):
        # HttpBearer's own reading, from the one header as WSGI passes it: request.headers would first build a
        # dict of every header of the request, on every API call.
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != self.openapi_scheme:
            return None
        return self.authenticate(request, token)

    def authenticate(self, request, token: str):
        if not token or len(token) > 200:
            return None
        found = api_caller_for_token(raw_token=token)
        if found is None:
            return None
        actor, request.api_organization = found
        return actor
