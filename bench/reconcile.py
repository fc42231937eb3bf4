"""Reconcile ingesting refunds made directly in Stripe (as in Stripe's dashboard), excluding Stripe's time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flexbill_bench .venv/bin/python -m bench.reconcile [--refunds N]

Setup: N paid charges through flexbill.billing.services, then one refund each made in the local Stripe with
stripe_refund_directly. Measured: reconcile_organization, which pages through Stripe's refunds and applies each
page as one set-based batch; the time spent fetching the pages (StripeGateway.refund_pages, timed per page) is
reported separately and subtracted. Baseline: that Stripe list time. Goal: >= 2,000 refunds/s excluding Stripe's
time.
"""

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from .common import (
    database_cpu,
    local_stripe,
    machine,
    make_org,
    make_paid_charges,
    print_table,
    progress_bar,
    say,
    setup_django,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refunds", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=4, help="setup threads")
    parser.add_argument(
        "--profile", metavar="FILE", help="profile the first (ingesting) run with pyinstrument; its text report to FILE"
    )
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from flexbill.billing.models import Refund
    from flexbill.billing.services.reconcile import reconcile_organization
    from flexbill.stripe_gateway import client as gateway_client
    from flexbill_demo.stripe_dashboard import stripe_refund_directly

    say(machine())
    with local_stripe():
        org, _ = make_org("bench-reconcile")
        charges = make_paid_charges(org, args.refunds, threads=args.threads, progress="Paid charges (setup)")
        with progress_bar() as bar, ThreadPoolExecutor(args.threads) as pool:
            task = bar.add_task("Refunds made in Stripe (setup)", total=len(charges))
            for _ in pool.map(lambda c: stripe_refund_directly(org, charge_id=c.stripe_charge_id), charges):
                bar.advance(task)
        connection.close()

        listing = []
        original = gateway_client.StripeGateway.refund_pages

        def timed_refund_pages(self, **kwargs):
            iterator = original(self, **kwargs)
            while True:
                start = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    listing.append(time.perf_counter() - start)
                    return
                listing.append(time.perf_counter() - start)
                yield item

        gateway_client.StripeGateway.refund_pages = timed_refund_pages
        runs = []
        for label in ("first run (ingests)", "second run (nothing new)"):
            listing.clear()
            profiler = _profiler() if args.profile and not runs else None
            server = database_cpu(connection)
            start, cpu, server_cpu = time.perf_counter(), time.process_time(), server()
            report = reconcile_organization(org)
            wall, cpu, server_cpu = time.perf_counter() - start, time.process_time() - cpu, server() - server_cpu
            if profiler is not None:
                profiler.stop()
                with open(args.profile, "w") as out:
                    out.write(profiler.output_text(unicode=False, color=False, show_all=False))
                say(f"Profile of the first run written to {args.profile} (the profiler's overhead is in its figures).")
            runs.append((label, report, wall, sum(listing), cpu, server_cpu))
        gateway_client.StripeGateway.refund_pages = original
        stored = Refund.objects.filter(organization=org, origin="stripe").count()

    rows = []
    for label, report, wall, stripe_s, cpu, server_cpu in runs:
        local = wall - stripe_s
        seen = report.stripe_refunds_seen
        rows.append(
            (
                label,
                seen,
                report.refunds_created,
                len(report.errors),
                wall,
                stripe_s,
                local,
                seen / local if local else 0.0,
                seen / wall if wall else 0.0,
                cpu,
                server_cpu,
            )
        )
    print_table(
        f"reconcile_organization, {args.refunds:,} refunds made in Stripe",
        [
            "",
            "seen",
            "created",
            "errors",
            "wall s",
            "Stripe list s (baseline)",
            "local s",
            "refunds/s local",
            "refunds/s wall",
            "CPU s (all)",
            "PostgreSQL CPU s",
        ],
        rows,
    )
    first = rows[0]
    say(
        f"{stored:,} refunds stored. Goal >= 2,000 refunds/s excluding Stripe: "
        f"{'met' if first[7] >= 2000 else 'MISSED'} ({first[7]:,.0f}/s; local s / Stripe s = {first[6] / first[5]:.2f})"
    )


def _profiler():
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    return profiler


if __name__ == "__main__":
    main()
