"""Stripe down, failing or too slow: the API answers 502 saying so, the charge is not refunded, and the same
request retried after Stripe recovers refunds exactly once (docs/rules.md, rule 5; the API's 502 and Idempotency-Key).

tests/api/test_refunds_api.py and tests/integration/test_refunds.py cover the outage itself; these follow the
request through to the retry."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from reliability_server import FailingStripe

from flexbill.billing.models import Charge, Refund, RefundStatus
from flexbill.stripe_gateway.client import gateway_for

pytestmark = pytest.mark.slow

CLOSED_PORT = "http://127.0.0.1:9"


@pytest.fixture
def outage(request, settings, local_stripe, paid_charge):
    """Once paid_charge exists, point flexbill at a Stripe that is stopped, answers 500 or answers too late;
    `recover()` ends the outage."""
    kind = request.param
    fake = None
    settings.FLEXBILL_STRIPE_TIMEOUT = 0.5
    if kind == "stopped":
        settings.FLEXBILL_STRIPE_API_BASE = CLOSED_PORT
    else:
        fake = FailingStripe(status=500, delay=1.5 if kind == "slow" else 0.0)
        settings.FLEXBILL_STRIPE_API_BASE = fake.url

    class Outage:
        name = kind

        def recover(self):
            settings.FLEXBILL_STRIPE_API_BASE = local_stripe.url

    yield Outage()
    if fake is not None:
        fake.stop()


def post_refund(client, charge, key):
    return client.post(
        f"/api/v1/charges/{charge.pk}/refunds",
        data=json.dumps({"amount": 2500}),
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )


@pytest.mark.parametrize("outage", ["stopped", "answers_500", "slow"], indirect=True)
def test_refund_retried_after_a_stripe_outage_refunds_exactly_once(outage, api_client, owner, paid_charge):
    client = api_client(owner)
    failed = post_refund(client, paid_charge, "outage-retry")
    assert failed.status_code == 502, failed.content
    body = failed.json()
    assert body["code"] == ("stripe_error" if outage.name == "stopped" else "stripe_unconfirmed")
    assert "Stripe" in body["detail"] and len(body["detail"]) > 30
    charge = Charge.objects.get(pk=paid_charge.pk)
    assert (charge.status, charge.amount_refunded) == ("success", 0)
    if outage.name == "stopped":  # the request never left: nothing is held back
        assert charge.amount_reserved == 0 and not Refund.objects.filter(charge=charge).exists()
    else:  # it may have reached Stripe: the amount stays reserved, the refund "requested" for settling
        assert [r.status for r in Refund.objects.filter(charge=charge)] == [RefundStatus.REQUESTED]

    outage.recover()
    # The retry comes after the first attempt is surely over (older than the in-flight window).
    Refund.objects.filter(charge=charge).update(created_at=timezone.now() - timedelta(minutes=5))
    retried = post_refund(client, paid_charge, "outage-retry")
    assert retried.status_code == 201, retried.content
    assert retried.json()["status"] == "succeeded"
    again = post_refund(client, paid_charge, "outage-retry")
    assert (again.status_code, again.json()["id"]) == (201, retried.json()["id"])

    in_stripe = gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)
    assert [r.amount for r in in_stripe] == [2500]
    refunds = list(Refund.objects.filter(charge=charge))
    assert [(r.stripe_refund_id, r.status) for r in refunds] == [(in_stripe[0].id, RefundStatus.SUCCEEDED)]
    assert Charge.objects.get(pk=charge.pk).amount_refunded == 2500
