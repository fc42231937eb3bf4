"""How the API tests call the API and read its errors: JSON bodies, and the contract's {"detail", "code"} shape."""

import json


def post(client, url, body=None, **headers):
    return client.post(
        url, data=json.dumps({} if body is None else body), content_type="application/json", headers=headers
    )


def post_raw(client, url, raw: str, **headers):
    return client.post(url, data=raw, content_type="application/json", headers=headers)


def assert_error(response, status: int | tuple[int, ...], code: str | None = None) -> dict:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.content
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["detail"]
    if code is not None:
        assert body["code"] == code
    return body
