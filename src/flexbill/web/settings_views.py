"""Settings pages: the landing page, Team (invite, change role, remove), Roles (with the permission tree) and
personal API tokens. Views translate; accounts' services decide who may do what."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from flexbill.accounts import roles, selectors, team, tokens
from flexbill.accounts.permissions import PERMISSION_TREE, ROLE_PERMISSIONS, Permission, Role
from flexbill.errors import Conflict, EmailFailed, InvalidInput, PermissionDenied

from .access import member_view, requires
from .settings_forms import InviteForm, MemberRoleForm, RoleForm, TokenForm


@require_GET
@member_view
def settings_index(request):
    return render(request, "web/settings/index.html")


def _team_page(request, *, form=None, status=200):
    organization = request.membership.organization
    members = selectors.member_list(organization=organization)
    return render(
        request,
        "web/settings/team.html",
        {
            "members": [(m, MemberRoleForm(organization=organization, initial={"role": m.role_ref})) for m in members],
            "form": form or InviteForm(organization=organization),
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@member_view
@requires(Permission.SETTINGS_MANAGE)
def team_page(request):
    if request.method == "GET":
        return _team_page(request)
    organization = request.membership.organization
    form = InviteForm(request.POST, organization=organization)
    if form.is_valid():
        try:
            member = team.member_invite(
                actor=request.actor,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                accept_url=lambda token: request.build_absolute_uri(reverse("web:invitation_accept", args=[token])),
            )
        except (InvalidInput, Conflict, EmailFailed) as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, f"Invitation sent to {member.user.email}. The link works for one use.")
            return redirect("web:settings_team")
    return _team_page(request, form=form, status=400)


@require_POST
@member_view
@requires(Permission.SETTINGS_MANAGE)
def member_role_change(request, member_id: int):
    organization = request.membership.organization
    member = selectors.member_get(organization=organization, member_id=member_id)
    form = MemberRoleForm(request.POST, organization=organization)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles offered.")
        return redirect("web:settings_team")
    try:
        member = team.member_change_role(actor=request.actor, member=member, role=form.cleaned_data["role"])
    except (InvalidInput, Conflict) as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{member.user.email} is now {member.role_label}.")
    return redirect("web:settings_team")


@require_POST
@member_view
@requires(Permission.SETTINGS_MANAGE)
def member_remove(request, member_id: int):
    member = selectors.member_get(organization=request.membership.organization, member_id=member_id)
    try:
        team.member_remove(actor=request.actor, member=member)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, f"{member.user.email} was removed: their sessions ended and API tokens stopped working."
        )
    return redirect("web:settings_team")


def _tree_context(form, *, held: frozenset[str]) -> dict:
    chosen = set(form["permissions"].value() or [])
    return {"tree": PERMISSION_TREE, "chosen": chosen, "always": ROLE_PERMISSIONS[Role.CUSTOM], "held": held}


def _held(membership) -> frozenset[str]:
    from flexbill.accounts.permissions import role_grants

    custom = frozenset(membership.custom_role.permissions) if membership.custom_role else frozenset()
    return role_grants(membership.role, custom)


@never_cache
@require_http_methods(["GET", "POST"])
@member_view
@requires(Permission.SETTINGS_MANAGE)
def roles_page(request):
    organization = request.membership.organization
    form = RoleForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                role = roles.role_create(actor=request.actor, **form.cleaned_data)
            except (InvalidInput, Conflict) as exc:
                form.add_domain_error(exc)
            else:
                messages.success(request, f"Role {role.name} created.")
                return redirect("web:settings_roles")
        status = 400
    role_rows = [(r, selectors.role_holders(role=r)) for r in selectors.role_list(organization=organization)]
    context = {"roles": role_rows, "form": form, **_tree_context(form, held=_held(request.membership))}
    return render(request, "web/settings/roles.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@member_view
@requires(Permission.SETTINGS_MANAGE)
def role_edit(request, role_id: int):
    role = selectors.role_get(organization=request.membership.organization, role_id=role_id)
    form = RoleForm(request.POST or None, initial={"name": role.name, "permissions": role.permissions})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                role = roles.role_update(actor=request.actor, role=role, **form.cleaned_data)
            except (InvalidInput, Conflict) as exc:
                form.add_domain_error(exc)
            else:
                messages.success(request, f"Role {role.name} saved.")
                return redirect("web:settings_roles")
        status = 400
    context = {
        "role": role,
        "holders": selectors.role_holders(role=role),
        "form": form,
        **_tree_context(form, held=_held(request.membership)),
    }
    return render(request, "web/settings/role.html", context, status=status)


@require_POST
@member_view
@requires(Permission.SETTINGS_MANAGE)
def role_delete(request, role_id: int):
    role = selectors.role_get(organization=request.membership.organization, role_id=role_id)
    try:
        roles.role_delete(actor=request.actor, role=role)
    except Conflict as exc:
        messages.error(request, exc.detail)
        return redirect("web:settings_role", role_id=role.pk)
    messages.success(request, f"Role {role.name} deleted.")
    return redirect("web:settings_roles")


@never_cache
@require_http_methods(["GET", "POST"])
@member_view
def tokens_page(request):
    """Personal API tokens. A new token is rendered (not redirected to) because it is shown this once."""
    form = TokenForm(request.POST or None)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = tokens.api_token_issue(actor=request.actor, name=form.cleaned_data["name"])
            except (InvalidInput, PermissionDenied) as exc:
                form.add_domain_error(exc)
                status = 400
            else:
                form = TokenForm()
        else:
            status = 400
    return render(
        request,
        "web/settings/tokens.html",
        {"tokens": selectors.api_token_list(membership=request.membership), "form": form, "created": created},
        status=status,
    )


@never_cache
@require_POST
@member_view
def token_revoke(request, token_id: int):
    token = selectors.api_token_get(membership=request.membership, token_id=token_id)
    try:
        tokens.api_token_revoke(actor=request.actor, token=token)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Token {token.name or token.prefix} revoked: it stops working now.")
    return redirect("web:settings_tokens")
