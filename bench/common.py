"""Shared benchmark helpers: Django on PostgreSQL, the local Stripe, fixtures made through services, figures."""

import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager

BENCH_PASSWORD = "bench-password-123"
WEBHOOK_SECRET = "whsec_bench_flexbill"


def setup_django() -> None:
    """Configure Django for a benchmark; refuses to run on anything but PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "Benchmarks run on PostgreSQL: set DATABASE_URL, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/flexbill_bench"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexbill.settings")
    os.environ.setdefault("FLEXBILL_SECRET_KEY", "bench-not-secret")
    os.environ.setdefault("FLEXBILL_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    migrate()  # the database may predate the current schema; every benchmark runs on the latest


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(samples: list[float]) -> dict:
    """Seconds -> p50/p95/p99/mean in milliseconds."""
    return {
        "n": len(samples),
        "p50": percentile(samples, 50) * 1000,
        "p95": percentile(samples, 95) * 1000,
        "p99": percentile(samples, 99) * 1000,
        "mean": statistics.fmean(samples) * 1000 if samples else float("nan"),
    }


def print_table(title: str, columns: list[str], rows: Iterable[Iterable]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[f"{v:.2f}" if isinstance(v, float) else str(v) for v in row])
    Console(width=170).print(table)


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{os.cpu_count()} cpu ({cpu}), python {platform.python_version()}"


def say(message: str) -> None:
    print(message, flush=True)


# The local Stripe ---------------------------------------------------------------------------------------------
@contextmanager
def local_stripe():
    """Start the local Stripe and point flexbill (and child processes, via the env) at it."""
    from django.conf import settings

    from flexbill_demo.localstripe import start_local_stripe

    stripe = start_local_stripe()
    settings.FLEXBILL_STRIPE_API_BASE = stripe.url
    settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = True
    os.environ["FLEXBILL_STRIPE_API_BASE"] = stripe.url
    os.environ["FLEXBILL_LOCAL_STRIPE_WORKAROUNDS"] = "1"
    try:
        yield stripe
    finally:
        stripe.stop()


# Fixtures through flexbill's own services ---------------------------------------------------------------------
def make_org(prefix: str):
    """A fresh organization (unique slug per run) and its owner membership."""
    from flexbill.accounts.services import organization_create, user_create

    tag = uuid.uuid4().hex[:8]
    org = organization_create(
        slug=f"{prefix}-{tag}",
        name=f"Bench {prefix} {tag}",
        stripe_secret_key=f"sk_test_bench{tag}",
        stripe_webhook_secret=WEBHOOK_SECRET,
    )
    owner = user_create(organization=org, email=f"owner-{tag}@bench.example", password=BENCH_PASSWORD, role="owner")
    return org, owner


def make_paid_charges(org, count: int, *, amount: int = 10000, threads: int = 4, progress: str = "Paid charges"):
    """`count` successful Stripe card charges, each on its own invoice, through flexbill.billing.services."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from flexbill.audit.services import SYSTEM
    from flexbill.billing import services

    customer = services.customer_create(
        organization=org, name="Bench Customer", email="bench@example.com", actor=SYSTEM
    )
    method = services.payment_method_add(customer=customer, stripe_payment_method="pm_card_visa", actor=SYSTEM)

    def one(_):
        try:
            invoice = services.invoice_create(
                organization=org,
                customer=customer,
                currency=org.default_currency,
                payment_method="stripe_card",
                lines=[{"description": "Dedicated desk", "amount": amount}],
                actor=SYSTEM,
            )
            return services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)
        finally:
            connection.close()

    with progress_bar() as bar, ThreadPoolExecutor(threads) as pool:
        task = bar.add_task(progress, total=count)
        charges = []
        for charge in pool.map(one, range(count)):
            charges.append(charge)
            bar.advance(task)
    failed = [c for c in charges if c.status != "success"]
    if failed:
        raise RuntimeError(f"{len(failed)} setup charges did not succeed")
    return charges


def progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


class Timer:
    """Accumulates wall time spent in wrapped calls, per thread-agnostic total and per-call samples."""

    def __init__(self):
        self.samples: list[float] = []

    @contextmanager
    def timing(self):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.samples.append(time.perf_counter() - start)

    @property
    def total(self) -> float:
        return sum(self.samples)


def git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def database_cpu(connection):
    """A reader of the CPU seconds the PostgreSQL backend serving `connection` has used (user + system, from
    /proc): what the database spent on a run, which the client's own CPU time does not show. Reads nan when the
    server is not on this machine."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    return read
