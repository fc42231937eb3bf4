"""Filtered invoice list through the API (payment method + status, newest first): first page and a deep page.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flexbill_bench .venv/bin/python -m bench.invoices

Needs the dataset of bench.seed. Baseline: the SQL the request ran (captured with CaptureQueriesContext),
executed directly on a raw cursor. Goal: p95 <= 20 ms and <= 1.5x the bare queries.
"""

import argparse
import time

from .common import machine, print_table, say, setup_django, summary_ms

ORG_SLUG = "bench-01"
FILTERS = [("stripe_sepa", "paid"), ("stripe_card", "refunded"), ("stripe_bacs", "partially_paid")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--explain", action="store_true", default=True)
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test import Client

    from flexbill.accounts.models import Membership, Organization
    from flexbill.accounts.services import api_token_create
    from flexbill.billing.models import Invoice
    from flexbill.billing.pagination import encode_cursor

    org = Organization.objects.filter(slug=ORG_SLUG).first()
    if org is None or not Invoice.objects.filter(organization=org).exists():
        raise SystemExit("No seeded dataset: run `python -m bench.seed` first.")
    membership = Membership.objects.filter(organization=org, role="owner").select_related("user").first()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(membership=membership)}")
    say(
        f"{machine()}; organization {ORG_SLUG}: {Invoice.objects.filter(organization=org).count():,} invoices "
        f"of {Invoice.objects.count():,}"
    )

    rows, plans = [], []
    for method, status in FILTERS:
        matching = Invoice.objects.filter(organization=org, payment_method=method, status=status)
        count = matching.count()
        # A deep page: the cursor 90% of the way down the filtered list (page ~count*0.9/50).
        deep = max(min(int(count * 0.9), count - 51), 0)
        deep_id = matching.order_by("-id").values_list("id", flat=True)[deep]
        for page, cursor in (("first", None), (f"deep (page {deep // 50 + 1})", encode_cursor(deep_id))):
            params = {"payment_method": method, "status": status, **({"cursor": cursor} if cursor else {})}
            app, bare, sql = _measure(client, connection, params, args.requests, args.warmup)
            a, b = summary_ms(app), summary_ms(bare)
            rows.append(
                (
                    f"{method}+{status} {page} ({count:,})",
                    a["p50"],
                    a["p95"],
                    b["p50"],
                    b["p95"],
                    a["p95"] / b["p95"],
                    "yes" if a["p95"] <= 20 and a["p95"] <= 1.5 * b["p95"] else "NO",
                )
            )
            plans.append((f"{method}+{status} {page}", sql))
    print_table(
        f"GET /api/v1/invoices, {args.requests} requests each (ms)",
        ["request (matching rows)", "app p50", "app p95", "bare SQL p50", "bare SQL p95", "app/bare p95", "goal met"],
        rows,
    )
    if args.explain:
        with connection.cursor() as cur:
            for label, sql in plans:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                say(f"\nEXPLAIN ANALYZE — {label}\n" + "\n".join(r[0] for r in cur.fetchall()))


def _measure(client, connection, params, n, warmup):
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        assert client.get("/api/v1/invoices", params).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/invoices", params)
    assert response.status_code == 200, response.content
    assert len(response.json()["items"]) == 50
    statements = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    list_sql = next(s for s in statements if "billing_invoice" in s)
    app = []
    for _ in range(n):
        start = time.perf_counter()
        client.get("/api/v1/invoices", params)
        app.append(time.perf_counter() - start)
    bare = []
    with connection.cursor() as cur:
        for _ in range(warmup):
            for sql in statements:
                cur.execute(sql)
                cur.fetchall()
        for _ in range(n):
            start = time.perf_counter()
            for sql in statements:
                cur.execute(sql)
                cur.fetchall()
            bare.append(time.perf_counter() - start)
    return app, bare, list_sql


if __name__ == "__main__":
    main()
