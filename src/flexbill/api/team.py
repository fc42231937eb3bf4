"""Team and roles: /api/v1/members and /api/v1/roles. The services decide who may (accounts/team.py, roles.py)."""

from typing import Annotated

from django.http import HttpResponse
from django.urls import reverse
from ninja import Field, Path, Router, Schema, Status

from flexbill.accounts import roles, selectors, team
from flexbill.accounts.permissions import Permission

from . import schemas
from .access import org_of, require

router = Router(tags=["settings"])
PathId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
ERRORS = {400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error, 409: schemas.Error}
RoleRef = Annotated[str, Field(min_length=1, max_length=120, pattern=schemas.NO_NUL)]
PermissionName = Annotated[str, Field(max_length=100)]


class MemberOut(Schema):
    id: int
    email: str
    role: str
    status: str


class MemberIn(Schema):
    email: str = Field(min_length=1, max_length=254)
    role: RoleRef


class MemberRoleIn(Schema):
    role: RoleRef


class RoleOut(Schema):
    id: int
    name: str
    permissions: list[str]


class RoleIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    permissions: list[PermissionName] = Field(max_length=50)


class RolePatchIn(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    permissions: list[PermissionName] | None = Field(default=None, max_length=50)


def member_out(member) -> dict:
    return {"id": member.pk, "email": member.user.email, "role": member.role_ref, "status": member.status}


def role_out(role) -> dict:
    return {"id": role.pk, "name": role.name, "permissions": list(role.permissions)}


@router.get("/members", response={200: list[MemberOut], **ERRORS})
def member_list(request):
    require(request, Permission.SETTINGS_MANAGE)
    return [member_out(m) for m in selectors.member_list(organization=org_of(request))]


@router.post("/members", response={201: MemberOut, **ERRORS, 502: schemas.Error})
def member_invite(request, payload: MemberIn):
    """Invite someone by e-mail: they get a one-time link and stay `pending` until they accept it. Inviting a
    pending e-mail again sends a new link; the previous one stops working."""
    member = team.member_invite(
        actor=request.auth,
        email=payload.email,
        role=payload.role,
        accept_url=lambda token: request.build_absolute_uri(reverse("web:invitation_accept", args=[token])),
    )
    return Status(201, member_out(member))


@router.patch("/members/{member_id}", response={200: MemberOut, **ERRORS})
def member_change_role(request, member_id: PathId, payload: MemberRoleIn):
    member = selectors.member_get(organization=org_of(request), member_id=member_id)
    return member_out(team.member_change_role(actor=request.auth, member=member, role=payload.role))


@router.delete("/members/{member_id}", response={204: None, **ERRORS})
def member_remove(request, member_id: PathId):
    member = selectors.member_get(organization=org_of(request), member_id=member_id)
    team.member_remove(actor=request.auth, member=member)
    return HttpResponse(status=204)


@router.get("/roles", response={200: list[RoleOut], **ERRORS})
def role_list(request):
    require(request, Permission.SETTINGS_MANAGE)
    return [role_out(r) for r in selectors.role_list(organization=org_of(request))]


@router.post("/roles", response={201: RoleOut, **ERRORS})
def role_create(request, payload: RoleIn):
    role = roles.role_create(actor=request.auth, name=payload.name, permissions=payload.permissions)
    return Status(201, role_out(role))


@router.patch("/roles/{role_id}", response={200: RoleOut, **ERRORS})
def role_update(request, role_id: PathId, payload: RolePatchIn):
    role = selectors.role_get(organization=org_of(request), role_id=role_id)
    return role_out(
        roles.role_update(actor=request.auth, role=role, name=payload.name, permissions=payload.permissions)
    )


@router.delete("/roles/{role_id}", response={204: None, **ERRORS})
def role_delete(request, role_id: PathId):
    role = selectors.role_get(organization=org_of(request), role_id=role_id)
    roles.role_delete(actor=request.auth, role=role)
    return HttpResponse(status=204)
