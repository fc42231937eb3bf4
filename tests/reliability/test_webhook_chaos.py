"""Webhook chaos through the real server and the real worker: a few hundred refund events for many charges,
duplicated, shuffled and delivered concurrently, with bad deliveries mixed in, while `flexbill worker` applies the
inbox. Every bad delivery is a 400 and changes nothing, no delivery is a 500, every event is stored once and applied
once, no refund is recorded twice, and every charge ends with exactly the refunds Stripe has (docs/rules.md, rule 9).

Run with `pytest -s` to see the figures (RELIABILITY.md quotes them)."""

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from reliability_server import Server

from flexbill.audit.models import AuditEvent
from flexbill.billing.models import Charge, Refund, WebhookEvent
from flexbill.stripe_gateway.client import gateway_for
from flexbill_demo.stripe_dashboard import stripe_refund_directly
from stripe_events import BAD_DELIVERIES, charge_event, deliver, deliver_bad, refund_event

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHARGES = 40
SEED = 6


class HttpClient:
    """The slice of Django's test Client that tests/stripe_events.py uses, over real HTTP to the server."""

    def __init__(self, server: Server):
        self.base = server.url
        self.session = requests.Session()

    def post(self, path, data, content_type, headers):
        body = data.encode() if isinstance(data, str) else data
        return self.session.post(
            f"{self.base}{path}", data=body, headers={**headers, "Content-Type": content_type}, timeout=60
        )


def test_duplicated_shuffled_concurrent_and_bad_webhooks_leave_every_charge_as_stripe_has_it(
    http_server, worker_process, org, make_paid_charge
):
    rng = random.Random(SEED)
    charges = [make_paid_charge(org, amount=rng.choice([3000, 5000, 9000])) for _ in range(CHARGES)]
    events = []
    for charge in charges:
        for _ in range(rng.randint(1, 3)):
            refund_id = stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=rng.randint(1, 10) * 100)
            events.append(refund_event(org, refund_id, rng.choice(["refund.created", "charge.refund.updated"])))
        events.append(charge_event(org, charge.stripe_charge_id))

    deliveries = []  # (kind, event): kind "good" or one of BAD_DELIVERIES
    for evt in events:
        deliveries += [("good", evt)] * rng.randint(1, 3)
        if rng.random() < 0.35:
            deliveries.append((rng.choice(BAD_DELIVERIES), evt))
    rng.shuffle(deliveries)

    server = http_server(workers=3, threads=2)
    worker = worker_process()
    client = HttpClient(server)

    def send(item):
        kind, evt = item
        response = deliver(client, org, evt) if kind == "good" else deliver_bad(client, org, evt, kind)
        return kind, response.status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, deliveries))

    inbox = WebhookEvent.objects.filter(verified=True)
    deadline = time.monotonic() + 120
    while inbox.filter(processed_at__isnull=True).exists():
        assert time.monotonic() < deadline, f"the worker did not apply the inbox:\n{worker.log()}"
        time.sleep(0.25)

    by_status = Counter(status for _, status in answers)
    good = [status for kind, status in answers if kind == "good"]
    bad = [status for kind, status in answers if kind != "good"]
    mismatches = []
    for charge in charges:
        charge = Charge.objects.get(pk=charge.pk)
        in_stripe = gateway_for(org).refunds_for_charge(charge.stripe_charge_id)
        stripe_refunded = sum(r.amount for r in in_stripe if r.status == "succeeded")
        local = {(r.stripe_refund_id, r.amount, r.status) for r in charge.refunds.all()}
        if charge.amount_refunded != stripe_refunded or local != {(r.id, r.amount, r.status) for r in in_stripe}:
            mismatches.append((charge.pk, charge.amount_refunded, stripe_refunded))
    figures = {
        "events": len(events),
        "deliveries": len(answers),
        "duplicates": len(good) - len(events),
        "bad_deliveries": len(bad),
        "bad_rejected_400": sum(status == 400 for status in bad),
        "answers": dict(sorted(by_status.items())),
        "charges_checked": len(charges),
        "stripe_refunds": sum(1 for e in events if e["type"] != "charge.refunded"),
        "mismatches": len(mismatches),
        "stored_once": inbox.count(),
        "applied": inbox.filter(outcome__startswith="Charge").count(),
    }
    print("\nwebhook chaos:", " ".join(f"{k}={v}" for k, v in figures.items()))

    assert by_status[500] == 0, server.log()
    assert all(status == 400 for status in bad), Counter(bad)
    assert all(status == 200 for status in good), Counter(good)
    assert mismatches == []
    # Each event stored once and applied once; each Stripe refund recorded once, and audited once.
    assert inbox.count() == len(events)
    assert {e.state for e in inbox} == {"applied"}
    stripe_ids = list(Refund.objects.filter(charge__in=charges).values_list("stripe_refund_id", flat=True))
    assert len(stripe_ids) == len(set(stripe_ids)) == figures["stripe_refunds"]
    assert AuditEvent.objects.filter(action="refund.synced").count() == figures["stripe_refunds"]
    # Bad deliveries are stored for inspection but never verified nor processed.
    assert WebhookEvent.objects.filter(verified=False, processed_at__isnull=False).count() == 0
    assert WebhookEvent.objects.filter(verified=False).count() == len(bad)
