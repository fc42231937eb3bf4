"""The server process dies between Stripe's refund and flexbill's commit (SIGKILL, crash_points.py): reconcile, or a
retry with the same Idempotency-Key, records the refund Stripe made exactly once (docs/rules.md, rules 5 and 11)."""

from datetime import timedelta

import pytest
import requests
from crash_points import crash_env
from django.utils import timezone
from reliability_server import bearer

from flexbill.accounts.services import api_token_create
from flexbill.billing.models import Charge, Refund, RefundStatus
from flexbill.billing.services.reconcile import reconcile_organization
from flexbill.stripe_gateway.client import REFUND_REFERENCE_KEY, gateway_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CRASH_AFTER_STRIPE_REFUND = {**crash_env("after_stripe_refund"), "FLEXBILL_STRIPE_TIMEOUT": "1"}


def post_refund_that_crashes(server, charge, headers, body) -> None:
    """The worker is killed mid-request: the client sees the connection drop (or a 502 from a proxy)."""
    try:
        response = requests.post(
            f"{server.url}/api/v1/charges/{charge.pk}/refunds", json=body, headers=headers, timeout=30
        )
    except requests.ConnectionError:
        return
    assert response.status_code in (500, 502), response.text  # never a 201: nothing was confirmed


def crashed_refund(charge) -> Refund:
    """After the crash: Stripe refunded, flexbill still has the refund "requested" without Stripe's id."""
    refund = Refund.objects.get(charge=charge)
    assert (refund.status, refund.stripe_refund_id) == (RefundStatus.REQUESTED, None)
    in_stripe = gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)
    assert [r.metadata[REFUND_REFERENCE_KEY] for r in in_stripe] == [str(refund.reference)]
    return refund


def assert_refunded_exactly_once(charge, amount: int) -> None:
    refunds = list(Refund.objects.filter(charge=charge))
    in_stripe = gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)
    assert len(refunds) == 1 and len(in_stripe) == 1
    assert (refunds[0].status, refunds[0].stripe_refund_id, refunds[0].amount) == (
        RefundStatus.SUCCEEDED,
        in_stripe[0].id,
        amount,
    )
    assert Charge.objects.get(pk=charge.pk).amount_refunded == amount


def test_crash_after_stripe_refund_is_settled_once_by_reconcile(http_server, org, owner, make_paid_charge):
    charge = make_paid_charge(org, amount=8000)
    server = http_server(workers=1, threads=1, env=CRASH_AFTER_STRIPE_REFUND)
    post_refund_that_crashes(server, charge, bearer(api_token_create(membership=owner)), {"amount": 3000})
    crashed_refund(charge)

    report = reconcile_organization(org)
    assert (report.errors, report.refunds_created) == ([], 0)
    assert_refunded_exactly_once(charge, 3000)
    assert reconcile_organization(org).changed == 0  # a second run changes nothing


def test_retry_with_the_same_idempotency_key_after_a_crash_does_not_refund_twice(
    http_server, org, owner, make_paid_charge
):
    charge = make_paid_charge(org, amount=8000)
    server = http_server(workers=1, threads=1, env=CRASH_AFTER_STRIPE_REFUND)
    headers = {**bearer(api_token_create(membership=owner)), "Idempotency-Key": "crash-retry-1"}
    url = f"{server.url}/api/v1/charges/{charge.pk}/refunds"
    post_refund_that_crashes(server, charge, headers, {"amount": 3000})
    refund = crashed_refund(charge)

    # A retry while the first attempt may still be in flight answers the same refund, still unconfirmed.
    early = requests.post(url, json={"amount": 3000}, headers=headers, timeout=30)
    assert early.status_code == 201, early.text
    assert (early.json()["id"], early.json()["status"]) == (refund.pk, "requested")

    # Once the first attempt is surely over (the refund is older than the in-flight window), the retry settles
    # the refund from Stripe instead of sending it again.
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    retry = requests.post(url, json={"amount": 3000}, headers=headers, timeout=30)
    assert retry.status_code == 201, retry.text
    assert (retry.json()["id"], retry.json()["status"]) == (refund.pk, "succeeded")
    assert_refunded_exactly_once(charge, 3000)
    assert reconcile_organization(org).changed == 0
