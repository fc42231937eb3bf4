"""Every error under /api/ is the contract's JSON {"detail", "code"}: unknown paths, wrong methods, bodies that are
not a JSON object or too large, a refused Host, and defects (a generic 500, logged). The docs still answer."""

import json
import logging

import pytest
from django.test import Client

from flexbill.billing import selectors

MULTIPART = "--x\r\nContent-Disposition: form-data; name=name\r\n\r\nA\r\n--x--\r\n"


@pytest.fixture
def owner_api(api_client, owner):
    return api_client(owner)


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response.content
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == code and body["detail"], body
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/v2/x",
        "/api/v1/nope",
        "/api/v1/invoices/abc/unknown",
        "/api/v1/invoices/1/unknown",
        "/api/v1/invoices/",  # a trailing slash no route has
        "/api/v1/exports/invoices.xlsx",
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_a_path_no_api_route_knows_is_a_json_404(owner_api, path, method):
    for client in (owner_api, Client()):
        assert_json_error(getattr(client, method)(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/api/v1/invoices", {"GET", "POST"}),
        ("delete", "/api/v1/invoices", {"GET", "POST"}),
        ("patch", "/api/v1/customers", {"POST"}),
        ("get", "/api/v1/charges/1/refunds", {"POST"}),
        ("post", "/api/v1/refunds", {"GET"}),
        ("put", "/api/v1/charges/1", {"GET", "DELETE"}),
        ("options", "/api/v1/invoices/1", {"GET"}),
    ],
)
def test_a_method_the_route_does_not_take_is_a_json_405_naming_the_allowed_ones(owner_api, method, path, allowed):
    response = getattr(owner_api, method)(path)

    body = assert_json_error(response, 405, "method_not_allowed")
    assert {m.strip() for m in response["Allow"].split(",")} == allowed
    assert method.upper() in body["detail"]


@pytest.mark.parametrize(
    ("body", "content_type", "detail"),
    [
        ("{bad", "application/json", "must be a JSON object (Content-Type: application/json)"),
        ('{"name": "A", ', "application/json", "must be a JSON object (Content-Type: application/json)"),
        ("name=A&email=a%40example.com", "application/x-www-form-urlencoded", "Content-Type: application/json"),
        (MULTIPART, "multipart/form-data; boundary=x", "Content-Type: application/json"),
        (b"\xff\xfe\xfa not text", "application/json", "must be a JSON object"),
        ("<customer/>", "application/xml", "Content-Type: application/json"),
        ("null", "application/json", "must be a JSON object"),
        ("[1, 2]", "application/json", "must be a JSON object"),
        ('"text"', "text/plain", "must be a JSON object"),
        ('{"name": "A\\u0000", "email": "a@example.com"}', "application/json", "NUL"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_json_400_saying_what_is_expected(owner_api, body, content_type, detail):
    response = owner_api.post("/api/v1/customers", body, content_type=content_type)

    assert detail in assert_json_error(response, 400, "invalid")["detail"]


def test_a_body_over_the_upload_limit_is_a_json_413(owner_api, settings):
    body = json.dumps({"name": "A" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "email": "a@example.com"})

    assert_json_error(owner_api.post("/api/v1/customers", body, content_type="application/json"), 413, "too_large")


def test_a_host_flexbill_does_not_serve_is_a_json_400_under_the_api(owner_api):
    # Django refuses the Host in a middleware, before any API code runs.
    assert_json_error(owner_api.get("/api/v1/invoices", HTTP_HOST="evil.example"), 400, "invalid")


def test_an_unexpected_error_is_a_json_500_with_a_generic_detail_and_is_logged(owner_api, monkeypatch, caplog):
    # A defect cannot be provoked through the API on purpose: a selector is made to fail for this test.
    def broken(**kwargs):
        raise RuntimeError("internal detail sk_live_do_not_show")

    monkeypatch.setattr(selectors, "invoice_summary_list", broken)
    caplog.set_level(logging.ERROR, logger="flexbill.api")

    response = owner_api.get("/api/v1/invoices")

    body = assert_json_error(response, 500, "server_error")
    assert body["detail"] == "Internal server error."
    assert "sk_live" not in response.content.decode()
    assert "internal detail sk_live_do_not_show" in caplog.text  # the traceback is in the log
    assert "GET '/api/v1/invoices'" in caplog.text


def test_error_answers_keep_the_security_headers(owner_api):
    for response in (owner_api.get("/api/v2/x"), owner_api.put("/api/v1/invoices")):
        assert response["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["X-Content-Type-Options"] == "nosniff"


def test_api_docs_and_schema_still_answer_and_pages_outside_the_api_keep_their_html_404(client):
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and docs["Content-Type"].startswith("text/html")
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200 and "/api/v1/invoices" in schema.json()["paths"]
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
