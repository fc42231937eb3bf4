"""Refund issue latency, split into flexbill's local overhead and the Stripe call; then concurrent refunds.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flexbill_bench .venv/bin/python -m bench.refunds

Calls flexbill.billing.services.refund_create against the local Stripe, with StripeGateway.refund_create
wrapped in a timer. Local overhead = refund_create wall time - time inside the Stripe call.
Baseline: the bare Stripe call. Goal: local overhead p50 <= 10 ms; the concurrent run has 0 errors.
"""

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .common import local_stripe, machine, make_org, make_paid_charges, print_table, say, setup_django, summary_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refunds", type=int, default=200, help="sequential refunds timed one by one")
    parser.add_argument("--concurrent", type=int, default=200, help="refunds issued at once on distinct charges")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--profile", metavar="FILE", help="profile the sequential refunds with pyinstrument; its text report to FILE"
    )
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from flexbill.billing import services
    from flexbill.billing.models import Charge
    from flexbill.stripe_gateway.client import StripeGateway

    say(machine())
    with local_stripe():
        org, owner = make_org("bench-refunds")
        charges = make_paid_charges(org, args.refunds + args.concurrent, progress="Paid charges (setup)")

        stripe_time = threading.local()
        original = StripeGateway.refund_create

        def timed(self, **kwargs):
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(self, **kwargs)
            finally:
                stripe_time.value = getattr(stripe_time, "value", 0.0) + time.perf_counter() - start
                stripe_time.cpu = getattr(stripe_time, "cpu", 0.0) + time.thread_time() - cpu

        StripeGateway.refund_create = timed
        local_cpu: list[float] = []  # flexbill's own CPU per sequential refund: what a busy machine cannot inflate
        statements: list[int] = []

        def count(execute, sql, params, many, context):
            statements[-1] += 1
            return execute(sql, params, many, context)

        def issue(charge):
            stripe_time.value = stripe_time.cpu = 0.0
            statements.append(0)
            start, cpu = time.perf_counter(), time.thread_time()
            with connection.execute_wrapper(count):
                refund = services.refund_create(membership=owner, charge=charge)
            total = time.perf_counter() - start
            local_cpu.append(time.thread_time() - cpu - stripe_time.cpu)
            assert refund.status == "succeeded", refund.status
            return total, stripe_time.value

        for charge in charges[:5]:  # warm-up: imports, connection, query plans
            issue(charge)
        local_cpu.clear()
        statements.clear()
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        load_before = os.getloadavg()
        totals, stripes = zip(*(issue(c) for c in charges[5 : args.refunds]), strict=True)
        load_after = os.getloadavg()
        sequential_cpu, sequential_statements = list(local_cpu), list(statements)
        if profiler is not None:
            profiler.stop()
            with open(args.profile, "w") as report:
                report.write(profiler.output_text(unicode=True, show_all=False))
            say(f"pyinstrument report: {args.profile}")
        local = [t - s for t, s in zip(totals, stripes, strict=True)]

        errors = []

        def issue_threaded(charge):
            try:
                return issue(charge)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return None
            finally:
                connection.close()

        start = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            results = [r for r in pool.map(issue_threaded, charges[args.refunds :]) if r]
        wall = time.perf_counter() - start
        StripeGateway.refund_create = original
        refunded = Charge.objects.filter(pk__in=[c.pk for c in charges[args.refunds :]], status="refunded").count()

    t, s, loc = summary_ms(list(totals)), summary_ms(list(stripes)), summary_ms(local)
    print_table(
        f"refund_create, {len(local)} sequential refunds (ms)",
        ["", "p50", "p95", "p99", "mean"],
        [
            (name, m["p50"], m["p95"], m["p99"], m["mean"])
            for name, m in (("total", t), ("Stripe call (baseline)", s), ("local overhead", loc))
        ],
    )
    cpu = summary_ms(sequential_cpu)
    say(
        f"flexbill CPU per refund (thread time, Stripe SDK excluded): p50 {cpu['p50']:.2f} / p95 {cpu['p95']:.2f} ms; "
        f"statements per refund (BEGIN/COMMIT excluded): {min(sequential_statements)}-{max(sequential_statements)}"
    )
    say(
        f"load average (1 min) while timing: {load_before[0]:.2f} -> {load_after[0]:.2f} on {os.cpu_count()} cpus; "
        f"local overhead - CPU (p50, waiting on the database and the scheduler): {loc['p50'] - cpu['p50']:.2f} ms"
    )
    say(
        f"local overhead / Stripe call (p50): {loc['p50'] / s['p50']:.2f}; "
        f"goal local p50 <= 10 ms: {'met' if loc['p50'] <= 10 else 'MISSED'}"
    )
    ct, cs = summary_ms([r[0] for r in results]), summary_ms([r[1] for r in results])
    cl = summary_ms([r[0] - r[1] for r in results])
    print_table(
        f"{args.concurrent} concurrent refunds on distinct charges, {args.threads} threads (ms)",
        ["", "p50", "p95", "p99"],
        [
            (name, m["p50"], m["p95"], m["p99"])
            for name, m in (("total", ct), ("Stripe call", cs), ("local overhead", cl))
        ],
    )
    say(
        f"{len(results)} ok, {len(errors)} errors, {refunded} charges refunded, {wall:.2f}s wall "
        f"= {len(results) / wall:.0f} refunds/s"
    )
    for error in errors[:10]:
        say(f"  error: {error}")


if __name__ == "__main__":
    main()
