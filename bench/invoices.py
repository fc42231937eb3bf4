"""Filtered invoice list through the API (payment method + status, newest first): first page and a deep page; and
the ways to find the API caller from its token, side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flexbill_bench .venv/bin/python -m bench.invoices

Needs the dataset of bench.seed (any size; `--invoices N` there). Baseline: the SQL the request ran (captured with
CaptureQueriesContext), executed directly on a raw cursor. The request and its bare SQL are timed alternately, one
of each per round, so that both see the same load on a shared machine. Goal: p95 <= 20 ms and <= 1.5x the bare
queries.
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
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the first request kind")
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
    raw_token = api_token_create(membership=membership)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    say(
        f"{machine()}; organization {ORG_SLUG}: {Invoice.objects.filter(organization=org).count():,} invoices "
        f"of {Invoice.objects.count():,}"
    )
    token_lookups(connection, raw_token, args.requests, args.warmup)

    rows, plans = [], []
    for method, status in FILTERS:
        matching = Invoice.objects.filter(organization=org, payment_method=method, status=status)
        count = matching.count()
        # A deep page: the cursor 90% of the way down the filtered list (page ~count*0.9/50).
        deep = max(min(int(count * 0.9), count - 51), 0)
        deep_id = matching.order_by("-id").values_list("id", flat=True)[deep]
        for page, cursor in (("first", None), (f"deep (page {deep // 50 + 1})", encode_cursor(deep_id))):
            params = {"payment_method": method, "status": status, **({"cursor": cursor} if cursor else {})}
            if args.profile and not rows:
                _profile(client, params, args.requests)
            app, bare, sql = _measure(client, connection, params, args.requests, args.warmup)
            a, b = summary_ms(app), summary_ms(bare)
            rows.append(
                (
                    f"{method}+{status} {page} ({count:,})",
                    a["p50"],
                    a["p95"],
                    b["p50"],
                    b["p95"],
                    a["p50"] / b["p50"],
                    a["p95"] / b["p95"],
                    "yes" if a["p95"] <= 20 and a["p95"] <= 1.5 * b["p95"] else "NO",
                )
            )
            plans.append((f"{method}+{status} {page}", sql))
    print_table(
        f"GET /api/v1/invoices, {args.requests} requests each, alternating with the bare SQL (ms)",
        [
            "request (matching rows)",
            "app p50",
            "app p95",
            "bare SQL p50",
            "bare SQL p95",
            "app/bare p50",
            "app/bare p95",
            "goal met",
        ],
        rows,
    )
    floors(client, connection, {"payment_method": FILTERS[0][0], "status": FILTERS[0][1]}, args.requests, args.warmup)
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
    app, bare = [], []
    with connection.cursor() as cur:
        for _ in range(warmup):
            for sql in statements:
                cur.execute(sql)
                cur.fetchall()
        for _ in range(n):
            start = time.perf_counter()
            client.get("/api/v1/invoices", params)
            app.append(time.perf_counter() - start)
            start = time.perf_counter()
            for sql in statements:
                cur.execute(sql)
                cur.fetchall()
            bare.append(time.perf_counter() - start)
    return app, bare, list_sql


def floors(client, connection, params, n, warmup) -> None:
    """What one answer is made of (first filter, first page), every kind timed alternately in the same rounds: the
    bare SQL; Django answering with nothing done (bench/invoice_list_floors.py), whose sum with the bare SQL is the
    best any Django answer could do; the same work as a plain Django view without django-ninja; and flexbill."""
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    with override_settings(ROOT_URLCONF="bench.invoice_list_floors"):
        with CaptureQueriesContext(connection) as captured:
            client.get("/api/v1/invoices", params)
        statements = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
        assert client.get("/api/bench/plain", params).content == client.get("/api/v1/invoices", params).content
        cursor = connection.cursor()

        def bare():
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()

        kinds = {
            "bare SQL (baseline)": bare,
            "Django answering, nothing done": lambda: client.get("/api/bench/empty"),
            "plain Django view, same work, no django-ninja": lambda: client.get("/api/bench/plain", params),
            "flexbill (django-ninja)": lambda: client.get("/api/v1/invoices", params),
        }
        samples = {label: [] for label in kinds}
        for _ in range(warmup):
            for run in kinds.values():
                run()
        for _ in range(n):
            for label, run in kinds.items():
                start = time.perf_counter()
                run()
                samples[label].append(time.perf_counter() - start)
        cursor.close()
    base = summary_ms(samples["bare SQL (baseline)"])
    empty = summary_ms(samples["Django answering, nothing done"])
    rows = [
        (label, s["p50"], s["p95"], s["p50"] / base["p50"], s["p95"] / base["p95"])
        for label, s in ((label, summary_ms(samples[label])) for label in kinds)
    ]
    best = (base["p50"] + empty["p50"], base["p95"] + empty["p95"])
    rows.insert(2, ("bare SQL + Django answering (sum)", *best, best[0] / base["p50"], best[1] / base["p95"]))
    print_table(
        f"What the answer is made of ({params['payment_method']}+{params['status']}, first page), {n} rounds (ms)",
        ["kind", "p50", "p95", "/ bare p50", "/ bare p95"],
        rows,
    )


def _profile(client, params, n):
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(n):
            client.get("/api/v1/invoices", params)
    say(profiler.output_text(unicode=False, color=False))


# Finding the API caller from its token ------------------------------------------------------------------------
# The lookup flexbill made on every request before callers were cached: token, membership, user, organization and
# custom role in one join, planned each time (Django binds parameters on the client side, so nothing is reused).
JOIN_SQL = (
    "SELECT * FROM accounts_apitoken t"
    " JOIN accounts_membership m ON m.id = t.membership_id"
    " JOIN auth_user u ON u.id = m.user_id"
    " JOIN accounts_organization o ON o.id = m.organization_id"
    " LEFT JOIN accounts_customrole r ON r.id = m.custom_role_id"
    " WHERE t.token_hash = %s AND t.revoked_at IS NULL LIMIT 1"
)
# A denormalised token row (organization, user, permissions copied onto the token) is one unique-index probe of
# one table; this is that probe on the token table as it is.
ONE_ROW_SQL = "SELECT * FROM accounts_apitoken WHERE token_hash = %s AND revoked_at IS NULL"


def token_lookups(connection, raw_token, n, warmup) -> None:
    from flexbill.accounts.api_callers import api_caller_for_token, still_holds_sql
    from flexbill.accounts.models import ApiToken, hash_token

    token_hash = hash_token(raw_token)
    caller_actor, caller_org = api_caller_for_token(raw_token=raw_token)
    token = ApiToken.objects.get(token_hash=token_hash)
    raw = connection.connection  # the psycopg 3 connection

    def orm_join():
        found = (
            ApiToken.objects.select_related("membership__user", "membership__organization", "membership__custom_role")
            .filter(token_hash=token_hash, revoked_at__isnull=True)
            .first()
        )
        found.membership.has_permission("billing.invoices.view")

    def sql(statement, params, prepare):
        def run():
            with raw.cursor() as cur:
                cur.execute(statement, params, prepare=prepare)
                cur.fetchall()

        return run

    version = caller_org.access_version
    options = [
        ("five-table join, ORM, planned per request (before)", orm_join),
        ("five-table join, SQL only, planned per request", sql(JOIN_SQL, [token_hash], False)),
        ("five-table join, server-side prepared (psycopg 3)", sql(JOIN_SQL, [token_hash], True)),
        ("denormalised token row: one unique-index probe", sql(ONE_ROW_SQL, [token_hash], False)),
        (
            "cached caller: its one-row check alone",
            sql(still_holds_sql(), [caller_actor.user_id, caller_actor.organization_id, version], False),
        ),
        ("cached caller: api_caller_for_token, whole (chosen)", lambda: api_caller_for_token(raw_token=raw_token)),
    ]
    samples = {label: [] for label, _ in options}
    for _ in range(warmup):
        for _, run in options:
            run()
    for _ in range(n):  # alternating, so that every option sees the same load
        for label, run in options:
            start = time.perf_counter()
            run()
            samples[label].append(time.perf_counter() - start)
    base = summary_ms(samples[options[0][0]])
    rows = []
    for label, _ in options:
        s = summary_ms(samples[label])
        rows.append((label, s["p50"], s["p95"], s["p50"] / base["p50"]))
    print_table(
        f"Finding the API caller from its token, {n} lookups each, alternating (ms; token {token.prefix}…)",
        ["lookup", "p50", "p95", "p50 / before"],
        rows,
    )


if __name__ == "__main__":
    main()
