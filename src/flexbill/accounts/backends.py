"""The authentication backend every sign-in goes through: the web login and /platform/ (Django admin) alike."""

import unicodedata

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.utils import timezone

from .sign_in.client_address import client_address
from .sign_in.identity import sign_in_identity
from .sign_in.throttle import sign_in_attempt_begin, sign_in_attempt_failed, sign_in_attempt_succeeded


class ThrottledEmailBackend(ModelBackend):
    """Resolves the typed e-mail with sign_in_identity and counts the attempt under that same identity.

    A throttled attempt raises SignInThrottled (a ValidationError) before any password is checked; Django's
    authenticate() lets it through and both sign-in forms show its sentence.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        User = get_user_model()
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        identity = sign_in_identity(str(username))
        attempt = sign_in_attempt_begin(identity=identity, address=client_address(request), now=timezone.now())
        user = _user_for(identity, str(username))
        if user is None:
            User().set_password(password)  # as ModelBackend: an unknown e-mail costs as much time as a known one
        elif user.check_password(password) and self.user_can_authenticate(user):
            sign_in_attempt_succeeded(attempt, now=timezone.now())
            return user
        sign_in_attempt_failed(attempt)
        return None

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        # ModelBackend has its own async path: route it through the same throttle.
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)


def _user_for(identity: str, typed: str):
    User = get_user_model()
    # Usernames made by flexbill are sign_in_identity of the e-mail. Ones made otherwise (createsuperuser) may keep
    # capitals: they still sign in with their exact spelling, which has the same identity, so the same count.
    for username in dict.fromkeys([identity, unicodedata.normalize("NFKC", typed).strip()]):
        try:
            return User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            continue
    return None
