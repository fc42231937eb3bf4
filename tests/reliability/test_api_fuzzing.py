"""Bad input never makes the API fail: schemathesis fuzzes every operation of the OpenAPI schema of the running
server (valid and invalid requests, authenticated as an owner) and no answer is a 5xx (the API never answers 500 for bad
input). The body size limit holds through the real server too."""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from reliability_server import bearer
from schemathesis.checks import not_a_server_error

from flexbill.accounts.services import api_token_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES_PER_OPERATION = 20


def test_fuzzed_requests_to_every_api_operation_are_never_a_server_error(http_server, org, owner, make_paid_charge):
    make_paid_charge(org)  # something to find, refund and list
    server = http_server(workers=2, threads=2)
    headers = bearer(api_token_create(membership=owner))
    schema = schemathesis.openapi.from_url(f"{server.url}/api/openapi.json")
    session = requests.Session()
    failures, operations, calls = [], 0, 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                nonlocal calls
                calls += 1
                case.call_and_validate(
                    base_url=f"{server.url}/api", session=session, headers=headers, checks=[not_a_server_error]
                )

            try:
                fuzz()
            except Exception as exc:  # collect every operation's failure, not only the first
                failures.append(f"{operation.label} ({mode}): {str(exc)[:800]}")
    print(f"\nschemathesis: operations={operations} calls={calls} failures={len(failures)}")
    assert operations >= 15
    assert failures == [], "\n\n".join(failures) + "\n" + server.log()[-3000:]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/customers", "/api/v1/charges/1/refunds", "/webhooks/stripe/{slug}/"],
)
def test_a_one_megabyte_body_is_refused_through_the_server(http_server, org, owner, path):
    """Refused for its size alone: the answer's code is the size limit's, which no validation gives."""
    server = http_server(workers=1, threads=2)
    body = b'{"name": "' + b"x" * (1024 * 1024) + b'", "email": "a@example.com"}'
    response = requests.post(
        f"{server.url}{path.format(slug=org.slug)}",
        data=body,
        headers={**bearer(api_token_create(membership=owner)), "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code in (400, 413), response.text[:500]
    assert response.json()["code"] == "too_large", response.text[:500]
