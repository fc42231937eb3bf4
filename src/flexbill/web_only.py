"""The middleware only the web UI needs, passed over under /api/.

An API request carries a Bearer token: it has no session, no signed-in user, no flashed messages and asks for no
static file. Each of those four middleware is subclassed here so that it runs exactly as before for every other
path and is skipped for the API (bench/invoices.py: the API's answer must cost little more than its SQL). What the
API shares with the pages stays in settings.MIDDLEWARE as it is: its JSON errors, the security headers,
CommonMiddleware (which refuses a Host flexbill does not serve), X-Frame-Options, and CsrfViewMiddleware (the API's
operations are exempt from it; Django's deploy checks look for it by name). Being subclasses, these still satisfy
the checks of django.contrib.admin."""

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from whitenoise import middleware as whitenoise

from flexbill.api.middleware import is_api_request


class WebOnly:
    def __call__(self, request):
        if is_api_request(request):
            return self.get_response(request)
        return super().__call__(request)


class WhiteNoiseMiddleware(WebOnly, whitenoise.WhiteNoiseMiddleware):
    pass


class SessionMiddleware(WebOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(WebOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(WebOnly, messages.MessageMiddleware):
    pass
