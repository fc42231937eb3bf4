"""Who is calling and what they may do: the caller's membership comes from the Bearer token."""

from django.http import HttpRequest

from flexbill.accounts.permissions import Permission
from flexbill.billing.refusals import Refusal
from flexbill.errors import PermissionDenied


def require(request: HttpRequest, permission: Permission):
    membership = request.auth
    if not membership.has_permission(permission):
        raise PermissionDenied(Refusal.PERMISSION_DENIED.sentence)
    return membership


def org_of(request: HttpRequest):
    return request.auth.organization
