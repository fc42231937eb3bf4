"""Who may use the admin UI: a signed-in user with a membership. Domain errors become pages, never a 500."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from flexbill.accounts.selectors import membership_for_user
from flexbill.audit.services import Actor
from flexbill.errors import FlexbillError

from .money import money_display_locale


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def error_page(request, *, status: int, title: str, detail: str):
    template = "web/partials/error.html" if is_htmx(request) else "web/error.html"
    return render(request, template, {"title": title, "detail": detail}, status=status)


TITLES = {400: "That did not work", 403: "Not allowed", 404: "Not found", 409: "Not possible", 502: "Stripe problem"}


def member_view(view):
    """Sets request.membership and the locale amounts are shown in; a domain error nobody caught becomes a readable
    page with its status."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        membership = membership_for_user(user=request.user)
        if membership is None:
            return error_page(
                request,
                status=403,
                title="No organization",
                detail="Your account is not a member of any organization. Ask an owner to invite you.",
            )
        request.membership = membership
        # What services are told is acting, with the permissions of the member's role (they check it themselves).
        request.actor = Actor.for_membership(membership)
        try:
            # Pages are rendered inside the view (render(), not a lazy TemplateResponse), so every amount on them is
            # written in the organization's locale.
            with money_display_locale(membership.organization.locale):
                return view(request, *args, **kwargs)
        except FlexbillError as exc:
            return error_page(
                request, status=exc.status, title=TITLES.get(exc.status, "That did not work"), detail=exc.detail
            )

    return login_required(wrapper)


def requires(permission: str):
    """Under member_view: members whose role lacks the permission get a 403 page, on GET and POST alike."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.actor.may(permission):
                return error_page(
                    request, status=403, title=TITLES[403], detail="Your role does not allow you to open this page."
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
