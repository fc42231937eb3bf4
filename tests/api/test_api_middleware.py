"""An API request is answered without the web UI's middleware (sessions, signed-in user, messages, static files),
and still with the security headers and checks the pages have."""

from django.test import Client


def test_an_api_request_runs_no_session_user_or_message_middleware(api_client, owner):
    response = api_client(owner).get("/api/v1/invoices")

    assert response.status_code == 200, response.content
    request = response.wsgi_request
    assert not any(hasattr(request, name) for name in ("session", "user", "_messages"))
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies


def test_a_page_still_runs_the_session_user_and_message_middleware(client, owner):
    client.force_login(owner.user)
    request = client.get("/").wsgi_request

    assert request.user.is_authenticated
    assert request.session.session_key
    assert hasattr(request, "_messages")


def test_a_static_file_is_still_served_outside_the_api():
    assert Client().get("/static/web/flexbill.css").status_code == 200
