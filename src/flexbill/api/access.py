"""Who is calling: the Bearer token gives the caller's Actor (request.auth) and organization. Reads are checked
here; every service that changes something checks its actor itself, and the API maps its refusal to 403."""

from django.http import HttpRequest

from flexbill.accounts.permissions import Permission
from flexbill.audit.services import Actor


def require(request: HttpRequest, permission: Permission) -> Actor:
    request.auth.require(permission)
    return request.auth


def org_of(request: HttpRequest):
    return request.api_organization
