"""Stripe refund webhooks end to end, on the peer benchmark's stream, against dj-stripe in the same run.

    .venv/bin/python -m bench.webhooks_e2e --peer "$PEER" [--db sqlite | --db postgres://…]
        [--events 2000] [--concurrency 8] [--djstripe-db postgres://…/djstripe_bench] [--skip-djstripe]

The peer benchmark (its directory given by --peer or FLEXBILL_PEER_DJSTRIPE; nothing of it is copied here) is
invoked by path: its tools venv runs its localstripe, its seeding script (N events: refund.created +
charge.refunded, ⌈N/2⌉ refunds over ~0.75·⌈N/2⌉ charges) and its load generator (C clients, one connection per
request, signed at send time); its run.sh runs dj-stripe 2.11.0 on the same kind of stream and prints
`djstripe: X events/s ...`.

flexbill runs as shipped: `flexbill serve` (gunicorn, its default 2 workers × 4 threads) and `flexbill worker`
(the database task backend) on a fresh database (SQLite in a temp dir, or the PostgreSQL database given). The
seeded charges are recorded in flexbill first (setup, not timed). Measured:
- end to end: from starting the load generator until every seeded refund is recorded and every charge's
  amount_refunded equals Stripe's: events / that time, against dj-stripe's events/s (each of its requests
  answers only after processing). Goal >= 5x.
- acknowledgement rate: the load generator's events/s against flexbill, and against the bare handler
  (bench/baseline_webhook_app.py: verify + insert the event row + upsert the refund in plain SQL) under the same
  gunicorn settings. Goal >= 0.5.
- receipt -> applied per event (processed_at - received_at): p50/p95/max. Goal p95 <= 2 s.
"""

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .common import machine, percentile, print_table, say

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default=os.environ.get("FLEXBILL_PEER_DJSTRIPE"), help="the peer benchmark dir")
    parser.add_argument("--db", default="sqlite", help="sqlite (a fresh file) or a postgres:// URL")
    parser.add_argument("--djstripe-db", help="PostgreSQL URL dj-stripe's run.sh may FLUSH (default: SQLite)")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-djstripe", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    if not args.peer or not (Path(args.peer) / "loadgen.py").exists():
        sys.exit("Give the peer benchmark's directory: --peer DIR or FLEXBILL_PEER_DJSTRIPE=DIR")
    peer = Path(args.peer)
    say(machine())
    with tempfile.TemporaryDirectory(prefix="flexbill-e2e-") as tmp:
        tmp = Path(tmp)
        db_url = f"sqlite:///{tmp / 'flexbill.sqlite3'}" if args.db == "sqlite" else args.db
        os.environ.update(
            DATABASE_URL=db_url,
            DJANGO_SETTINGS_MODULE="flexbill.settings",
            FLEXBILL_SECRET_KEY="bench-not-secret",
            FLEXBILL_LOG_LEVEL="WARNING",
            # Refund e-mails are sent (the notification path runs) but not printed to the worker's console.
            FLEXBILL_EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        )
        tools_py = subprocess.run([peer / "tools-venv"], capture_output=True, text=True, check=True).stdout.strip()
        processes = []
        try:
            results = _run_flexbill(args, peer, tools_py, tmp, db_url, processes)
        finally:
            for process in reversed(processes):
                _stop(process)
        djstripe = None if args.skip_djstripe else _run_djstripe(peer, args)
    _report(args, results, djstripe)


def _run_flexbill(args, peer: Path, tools_py: str, tmp: Path, db_url: str, processes: list) -> dict:
    from flexbill_demo.localstripe import free_port

    stripe_port = free_port()
    stripe_url = f"http://127.0.0.1:{stripe_port}"
    processes.append(
        subprocess.Popen([tools_py, peer / "run_localstripe.py", "--port", str(stripe_port)], stdout=subprocess.DEVNULL)
    )
    _wait_http(f"{stripe_url}/v1/customers", 30)
    os.environ["FLEXBILL_STRIPE_API_BASE"] = stripe_url
    os.environ["FLEXBILL_LOCAL_STRIPE_WORKAROUNDS"] = "1"
    secret_key, webhook_secret = f"sk_test_{secrets.token_hex(16)}", f"whsec_{secrets.token_hex(20)}"
    events_file = tmp / "events.jsonl"
    say(f"Seeding {args.events} events in the peer's localstripe ...")
    subprocess.run(
        [tools_py, peer / "seed_refund_events.py", "--api-base", stripe_url, "--api-key", secret_key]
        + ["--events", str(args.events), "--out", str(events_file)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    manifest = json.loads(Path(f"{events_file}.manifest.json").read_text())

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    org = _record_charges(secret_key, webhook_secret, stripe_url)
    from django.conf import settings

    # The bare handler decrypts the stored signing secret with the same keys (they may live in ./var).
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLEXBILL_ENCRYPTION_KEYS": ",".join(settings.FLEXBILL_ENCRYPTION_KEYS),
    }
    url = None

    def post(label: str) -> dict:
        out = tmp / f"{label}.json"
        subprocess.run(
            [tools_py, peer / "loadgen.py", "--events", str(events_file), "--url", url, "--secret", webhook_secret]
            + ["--concurrency", str(args.concurrency), "--label", label, "--json", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(out.read_text())

    results = {"manifest": manifest, "db": "sqlite" if db_url.startswith("sqlite") else "postgresql"}
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/stripe/{org.slug}/"
    if not args.skip_baseline:
        say("Bare handler (bench/baseline_webhook_app.py), same gunicorn settings ...")
        server = _serve(port, env, "bench.baseline_webhook_app:application")
        try:
            results["baseline"] = post("baseline")
        finally:
            _stop(server)
        _forget_baseline(org)

    say("flexbill serve alone (acknowledgement rate, no worker) ...")
    server = _serve(port := free_port(), env, None)
    url = f"http://127.0.0.1:{port}/webhooks/stripe/{org.slug}/"
    try:
        results["flexbill_alone"] = post("flexbill-alone")
    finally:
        _stop(server)
    _forget_baseline(org)  # the same events again, as new, for the run with the worker

    say("flexbill serve + flexbill worker ...")
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/stripe/{org.slug}/"
    processes.append(_serve(port, env, None))
    processes.append(
        subprocess.Popen(
            [sys.executable, "-m", "flexbill.cli", "worker", "--reconcile-interval", "0"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    )
    time.sleep(2)  # the worker's first look at an empty inbox
    server, worker, stripe_process = processes[-2], processes[-1], processes[0]
    cpu_before = {
        name: _cpu_seconds(p.pid) for name, p in (("serve", server), ("worker", worker), ("stripe", stripe_process))
    }
    start = time.time()
    loadgen = subprocess.Popen(
        [tools_py, peer / "loadgen.py", "--events", str(events_file), "--url", url, "--secret", webhook_secret]
        + ["--concurrency", str(args.concurrency), "--label", "flexbill", "--json", str(tmp / "flexbill.json")],
        stdout=subprocess.DEVNULL,
    )
    done_at = _wait_all_recorded(org, manifest, timeout=900)
    results["cpu"] = {
        name: _cpu_seconds(p.pid) - cpu_before[name]
        for name, p in (("serve", server), ("worker", worker), ("stripe", stripe_process))
    }
    loadgen.wait(timeout=600)
    results["flexbill"] = json.loads((tmp / "flexbill.json").read_text())
    results["e2e_seconds"] = done_at - start
    results["applied"] = _receipt_to_applied(org)
    return results


def _record_charges(secret_key: str, webhook_secret: str, stripe_url: str):
    """The seeded charges, recorded in flexbill as its own Stripe card charges (each on one paid invoice)."""
    import stripe
    from django.utils import timezone

    from flexbill.accounts.services import organization_create
    from flexbill.billing.models import Charge, Customer, Invoice

    tag = secrets.token_hex(4)
    org = organization_create(
        slug=f"bench-e2e-{tag}",
        name=f"Bench e2e {tag}",
        stripe_secret_key=secret_key,
        stripe_webhook_secret=webhook_secret,
    )
    client = stripe.StripeClient(secret_key, base_addresses={"api": stripe_url}, max_network_retries=0)
    seeded = [c.to_dict() for c in client.v1.charges.list(params={"limit": 100}).auto_paging_iter()]
    customer = Customer.objects.create(organization=org, name="Bench customer", email="bench@example.com")
    invoices = Invoice.objects.bulk_create(
        Invoice(
            organization=org,
            number=f"E2E-{n:05d}",
            customer=customer,
            currency=c["currency"],
            total=c["amount"],
            payment_method="stripe_card",
            status="paid",
            amount_paid=c["amount"],
            issued_on=timezone.now().date(),
        )
        for n, c in enumerate(seeded)
    )
    Charge.objects.bulk_create(
        Charge(
            organization=org,
            invoice=invoice,
            amount=c["amount"],
            currency=c["currency"],
            source="stripe",
            payment_status="success",
            status="success",
            payment_method_type="card",
            stripe_charge_id=c["id"],
            stripe_payment_intent_id=c["payment_intent"] if isinstance(c["payment_intent"], str) else None,
            charged_at=timezone.now(),
        )
        for invoice, c in zip(invoices, seeded, strict=True)
    )
    say(f"Recorded {len(seeded)} seeded charges in flexbill ({org.slug}).")
    return org


def _forget_baseline(org) -> None:
    """Back to the state before the stream: no inbox rows, no refunds, no queued applies."""
    from django_tasks_db.models import DBTaskResult

    from flexbill.billing.models import Refund, WebhookEvent

    Refund.objects.filter(organization=org).delete()
    WebhookEvent.objects.filter(organization=org).delete()
    DBTaskResult.objects.all().delete()


def _wait_all_recorded(org, manifest: dict, *, timeout: float) -> float:
    """The moment every seeded refund is recorded and every charge's amount_refunded is Stripe's final one."""
    from django.db import connection

    from flexbill.billing.models import Charge, Refund

    expected = manifest["final_amount_refunded"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if Refund.objects.filter(organization=org, stripe_refund_id__in=manifest["refund_ids"]).count() == len(
            manifest["refund_ids"]
        ):
            now = dict(Charge.objects.filter(organization=org).values_list("stripe_charge_id", "amount_refunded"))
            if all(now.get(charge_id) == amount for charge_id, amount in expected.items()):
                return time.time()
        connection.close()
        time.sleep(0.05)
    raise RuntimeError("flexbill did not record every refund in time")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (gunicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _receipt_to_applied(org) -> dict:
    from flexbill.billing.models import WebhookEvent

    rows = WebhookEvent.objects.filter(organization=org, verified=True).values_list("received_at", "processed_at")
    waits = [(p - r).total_seconds() for r, p in rows if p is not None]
    return {
        "events": len(rows),
        "applied": len(waits),
        "p50": percentile(waits, 50),
        "p95": percentile(waits, 95),
        "max": max(waits, default=float("nan")),
    }


def _serve(port: int, env: dict, wsgi: str | None) -> subprocess.Popen:
    """`flexbill serve` as shipped; with `wsgi`, the same gunicorn command line serving that app instead."""
    if wsgi is None:
        argv = [sys.executable, "-m", "flexbill.cli", "serve", "--port", str(port)]
    else:
        from flexbill.ops.management.commands.serve import gunicorn_argv

        argv = gunicorn_argv(host="127.0.0.1", port=port, workers=2, threads=4)
        argv[argv.index("flexbill.wsgi:application")] = wsgi
        argv += ["--access-logfile", "/dev/null"]
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    # As the peer's run.sh does for dj-stripe: a few GETs, so that each gunicorn worker has loaded the app.
    for _ in range(8):
        _wait_http(f"http://127.0.0.1:{port}/webhooks/stripe/warmup/", 60)
    return process


def _wait_http(url: str, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered at {url}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _run_djstripe(peer: Path, args) -> dict:
    say("dj-stripe 2.11.0 through the peer's run.sh ...")
    argv = [peer / "run.sh", "--events", str(args.events), "--concurrency", str(args.concurrency)]
    if args.djstripe_db:
        argv += ["--db", args.djstripe_db]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = re.findall(r"^djstripe: ([0-9.]+) events/s.*$", out.stdout, re.MULTILINE)
    if not found:
        say(f"run.sh printed no result (exit {out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
        return None
    line = next(x for x in reversed(out.stdout.splitlines()) if x.startswith(f"djstripe: {found[-1]} events/s"))
    say(line)
    return {"line": line, "events_per_s": float(found[-1])}


def _report(args, r: dict, djstripe: dict | None) -> None:
    flexbill, manifest = r["flexbill"], r["manifest"]
    e2e_rate = manifest["events"] / r["e2e_seconds"]
    alone = r["flexbill_alone"]
    rows = [
        (
            "flexbill serve alone: acknowledged",
            alone["ok_2xx"],
            alone["events_per_s"],
            alone["latency_ms"]["p50"],
            alone["latency_ms"]["p95"],
        ),
        (
            "flexbill serve + worker: acknowledged",
            flexbill["ok_2xx"],
            flexbill["events_per_s"],
            flexbill["latency_ms"]["p50"],
            flexbill["latency_ms"]["p95"],
        ),
        ("flexbill serve + worker: end to end", manifest["events"], e2e_rate, float("nan"), float("nan")),
    ]
    if "baseline" in r:
        b = r["baseline"]
        rows.append(("bare handler", b["ok_2xx"], b["events_per_s"], b["latency_ms"]["p50"], b["latency_ms"]["p95"]))
    if djstripe:
        rows.append(
            ("dj-stripe 2.11.0 (run.sh)", manifest["events"], djstripe["events_per_s"], float("nan"), float("nan"))
        )
    print_table(
        f"Refund webhooks, {manifest['events']} events ({manifest['refunds']} refunds over {manifest['charges']} "
        f"charges), {args.concurrency} clients, db={r['db']}",
        ["", "ok", "events/s", "p50 ms", "p95 ms"],
        rows,
    )
    cpu = r["cpu"]
    say(
        f"CPU from the first POST until all applied ({r['e2e_seconds']:.1f} s wall, {os.cpu_count()} cores): "
        f"flexbill serve {cpu['serve']:.1f} s, flexbill worker {cpu['worker']:.1f} s, localstripe {cpu['stripe']:.1f} s"
    )
    applied = r["applied"]
    say(
        f"receipt -> applied: p50 {applied['p50']:.2f} s, p95 {applied['p95']:.2f} s, max {applied['max']:.2f} s "
        f"({applied['applied']}/{applied['events']} events applied); goal p95 <= 2 s: "
        f"{_met(applied['p95'] <= 2)}"
    )
    if "baseline" in r and r["baseline"]["ok_2xx"] < manifest["events"]:
        say(f"the bare handler acknowledged only {r['baseline']['ok_2xx']} of {manifest['events']}: no ratio")
    elif "baseline" in r:
        bare = r["baseline"]["events_per_s"]
        for label, rate in (("serve alone", alone["events_per_s"]), ("with the worker", flexbill["events_per_s"])):
            ratio = rate / bare
            say(f"acknowledgement rate ({label}) / bare handler = {ratio:.2f} (goal >= 0.5: {_met(ratio >= 0.5)})")
    if djstripe:
        ratio = e2e_rate / djstripe["events_per_s"]
        say(f"end to end / dj-stripe = {ratio:.2f}x (goal >= 5x: {_met(ratio >= 5)})")


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


if __name__ == "__main__":
    main()
