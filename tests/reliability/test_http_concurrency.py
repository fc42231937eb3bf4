"""Refunds requested at once through the real server (gunicorn, 3 processes x 2 threads) never exceed the charge,
and what flexbill recorded is exactly what Stripe holds (docs/rules.md, rules 3 and 5, the API's Idempotency-Key)."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from reliability_server import bearer

from flexbill.accounts.services import api_token_create
from flexbill.billing.models import Charge, Refund, RefundStatus
from flexbill.stripe_gateway.client import gateway_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHARGE = 10000


def test_simultaneous_refunds_through_the_server_never_exceed_the_charge_and_match_stripe(
    http_server, org, owner, make_paid_charge
):
    charge = make_paid_charge(org, amount=CHARGE)
    server = http_server(workers=3, threads=2)
    url = f"{server.url}/api/v1/charges/{charge.pk}/refunds"
    headers = bearer(api_token_create(membership=owner))
    # 8 retries of one request (one Idempotency-Key), 8 requests with their own keys, 8 without a key:
    # 3000 each, so at most three can succeed (9000 <= 10000 < 12000).
    requests_to_send = (
        [("same-key", 3000)] * 8 + [(f"key-{i}", 3000) for i in range(8)] + [(None, 3000) for _ in range(8)]
    )

    def send(item):
        key, amount = item
        extra = {"Idempotency-Key": key} if key else {}
        response = requests.post(url, json={"amount": amount}, headers={**headers, **extra}, timeout=60)
        try:
            body = response.json()
        except ValueError:
            body = {"raw": response.text[:500]}
        return key, response.status_code, body

    with ThreadPoolExecutor(max_workers=len(requests_to_send)) as pool:
        answers = list(pool.map(send, requests_to_send))

    statuses = Counter(status for _, status, _ in answers)
    assert set(statuses) <= {201, 409}, (statuses, answers, server.log())
    refused = [body for _, status, body in answers if status == 409]
    assert all(body["code"] in ("amount_too_large", "already_refunded") for body in refused), refused
    same_key_ids = {body["id"] for key, status, body in answers if key == "same-key" and status == 201}
    assert len(same_key_ids) <= 1, "one Idempotency-Key must give one refund"

    recorded = list(Refund.objects.filter(charge=charge))
    assert all(r.status == RefundStatus.SUCCEEDED and r.stripe_refund_id for r in recorded), recorded
    in_stripe = gateway_for(org).refunds_for_charge(charge.stripe_charge_id)
    assert {(r.stripe_refund_id, r.amount) for r in recorded} == {(r.id, r.amount) for r in in_stripe}
    assert sum(r.amount for r in in_stripe) <= CHARGE
    assert len(recorded) == 3  # exactly as many 3000s as fit: none lost, none doubled
    created_ids = {body["id"] for _, status, body in answers if status == 201}
    assert created_ids == {r.pk for r in recorded}
    charge = Charge.objects.get(pk=charge.pk)
    assert (charge.amount_refunded, charge.amount_reserved, charge.status) == (9000, 9000, "success")
