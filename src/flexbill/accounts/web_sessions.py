"""Web sessions per user, so that removing someone from an organization ends their sessions at once.

Sessions are recorded when someone signs in and forgotten when they sign out; ending them deletes them from
whatever session store is configured."""

from importlib import import_module

from django.conf import settings

from .models import UserSession


def _store(session_key: str | None = None):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def on_signed_in(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if not session_key:
        return
    # Sessions that expired or were cleared without a sign-out leave rows behind: drop this user's stale ones.
    for key in UserSession.objects.filter(user=user).values_list("session_key", flat=True):
        if key != session_key and not _store().exists(key):
            UserSession.objects.filter(session_key=key).delete()
    UserSession.objects.get_or_create(session_key=session_key, defaults={"user": user})


def on_signed_out(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def user_sessions_end(*, user) -> int:
    """Sign the user out everywhere now; -> how many sessions ended."""
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        _store(key).delete(key)
    UserSession.objects.filter(user=user).delete()
    return len(keys)
