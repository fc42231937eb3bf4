"""A refund over flexbill's HTTP API against the same refund sent straight to Stripe with the SDK, alternately.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flexbill_bench .venv/bin/python -m bench.refunds_http

`flexbill serve` as shipped (gunicorn, 2 workers x 4 threads, the database task backend) on the local Stripe;
one client, keep-alive, one request at a time. Each round sends one refund through
`POST /api/v1/charges/{id}/refunds` and one through `stripe.StripeClient.refunds.create` on another charge, the
order swapped every round, so both see the same machine at the same moments. Figures: each path's p50 / p95 and
the difference of the p50s, plus the median of the per-round differences. Goal: p50 difference <= 15 ms.
"""

import argparse
import os
import statistics
import time

from .common import local_stripe, machine, make_org, make_paid_charges, print_table, say, setup_django, summary_ms
from .webhooks_e2e import _serve, _stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refunds", type=int, default=200, help="rounds: one refund by each path per round")
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    setup_django()
    import requests
    import stripe

    from flexbill.accounts.services import api_token_create
    from flexbill_demo.localstripe import free_port

    say(machine())
    say(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    rounds = args.warmup + args.refunds
    with local_stripe() as local:
        org, owner = make_org("bench-refunds-http")
        charges = make_paid_charges(org, 2 * rounds, progress="Paid charges (setup)")
        token = api_token_create(membership=owner)
        port = free_port()
        server = _serve(port, {**os.environ, "FLEXBILL_LOG_LEVEL": "WARNING"}, None)
        try:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            sdk = stripe.StripeClient(
                org.stripe_secret_key, base_addresses={"api": local.url}, http_client=stripe.RequestsClient()
            )

            def over_api(charge) -> float:
                start = time.perf_counter()
                response = session.post(f"http://127.0.0.1:{port}/api/v1/charges/{charge.pk}/refunds", json={})
                elapsed = time.perf_counter() - start
                assert response.status_code == 201, response.text
                assert response.json()["status"] == "succeeded", response.text
                return elapsed

            def straight_to_stripe(charge) -> float:
                start = time.perf_counter()
                refund = sdk.v1.refunds.create(params={"charge": charge.stripe_charge_id})
                elapsed = time.perf_counter() - start
                assert refund.status == "succeeded", refund
                return elapsed

            api, direct = [], []
            for n in range(rounds):
                a, b = charges[2 * n], charges[2 * n + 1]
                if n % 2:
                    d, t = straight_to_stripe(b), over_api(a)
                else:
                    t, d = over_api(a), straight_to_stripe(b)
                if n >= args.warmup:
                    api.append(t)
                    direct.append(d)
        finally:
            _stop(server)
    say(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    a, d = summary_ms(api), summary_ms(direct)
    print_table(
        f"{len(api)} refunds by each path, alternately (ms)",
        ["", "p50", "p95", "p99", "mean"],
        [
            (name, m["p50"], m["p95"], m["p99"], m["mean"])
            for name, m in (("POST /api/v1/charges/{id}/refunds", a), ("Stripe SDK refunds.create (baseline)", d))
        ],
    )
    paired = statistics.median(x - y for x, y in zip(api, direct, strict=True)) * 1000
    gap = a["p50"] - d["p50"]
    say(
        f"API p50 - SDK p50: {gap:.2f} ms; median per-round difference {paired:.2f} ms; API/SDK (p50) "
        f"{a['p50'] / d['p50']:.2f}; goal difference <= 15 ms: {'met' if gap <= 15 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
