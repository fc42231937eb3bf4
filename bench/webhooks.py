"""Signed Stripe refund events posted over HTTP to flexbill under gunicorn, against a bare WSGI baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flexbill_bench .venv/bin/python -m bench.webhooks [--events N]

Setup: N paid charges through services, each refunded directly in the local Stripe; one signed refund.created
event per refund. Both servers run `gunicorn --workers 2` with the same settings; a separate load generator
process posts the events with --concurrency connections. The baseline (bench/baseline_webhook_app.py) verifies
the same signature and writes the same rows (webhook event + refund upsert) with hand-written SQL in one
transaction. Goal: app events/s >= 0.5x the baseline's.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .common import (
    WEBHOOK_SECRET,
    local_stripe,
    machine,
    make_org,
    make_paid_charges,
    percentile,
    print_table,
    progress_bar,
    say,
    setup_django,
)

ROOT = Path(__file__).resolve().parent.parent


def signed(payload: str, secret: str = WEBHOOK_SECRET) -> str:
    t = int(time.time())
    v1 = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


def refund_event(n: int, refund_id: str, charge, status: str = "succeeded") -> str:
    obj = {
        "id": refund_id,
        "object": "refund",
        "charge": charge.stripe_charge_id,
        "amount": charge.amount,
        "currency": charge.currency,
        "status": status,
        "metadata": {},
        "created": int(time.time()),
    }
    return json.dumps(
        {
            "id": f"evt_bench_{refund_id}_{n}",
            "object": "event",
            "type": "refund.created",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--conn-max-age",
        default=os.environ.get("FLEXBILL_DB_CONN_MAX_AGE", "60"),
        help="flexbill's FLEXBILL_DB_CONN_MAX_AGE under gunicorn (the baseline keeps its connection)",
    )
    parser.add_argument("--loadgen", nargs=2, metavar=("URL", "EVENTS_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        return loadgen(*args.loadgen, concurrency=args.concurrency)
    setup_django()
    from django.db import connection

    from flexbill.billing.models import WebhookEvent
    from flexbill.stripe_gateway.devtools import stripe_refund_directly

    say(machine())
    with local_stripe() as stripe, tempfile.TemporaryDirectory() as tmp:
        org, _ = make_org("bench-webhooks")
        charges = make_paid_charges(org, args.events, progress="Paid charges (setup)")
        with progress_bar() as bar, ThreadPoolExecutor(4) as pool:
            task = bar.add_task("Refunds made in Stripe (setup)", total=len(charges))
            refund_ids = []
            for rid in pool.map(lambda c: stripe_refund_directly(org, charge_id=c.stripe_charge_id), charges):
                refund_ids.append(rid)
                bar.advance(task)
        connection.close()
        events = {
            "app": [refund_event(i, rid, c) for i, (rid, c) in enumerate(zip(refund_ids, charges, strict=True))],
            # Same charges, distinct refund ids, so the baseline inserts as many rows as the app does.
            "baseline": [
                refund_event(i, f"re_baseline_{i}_{rid}", c)
                for i, (rid, c) in enumerate(zip(refund_ids, charges, strict=True))
            ],
        }
        env = {
            **os.environ,
            "FLEXBILL_STRIPE_API_BASE": stripe.url,
            "FLEXBILL_DB_CONN_MAX_AGE": args.conn_max_age,
            "PYTHONPATH": str(ROOT),
        }
        results = {}
        for name, wsgi in (
            ("app", "flexbill.wsgi:application"),
            ("baseline", "bench.baseline_webhook_app:application"),
        ):
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(events[name]))
            with gunicorn(wsgi, env) as url:
                say(f"Posting {len(events[name])} events to {name} ({wsgi}) ...")
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.webhooks",
                        "--concurrency",
                        str(args.concurrency),
                        "--loadgen",
                        f"{url}/webhooks/stripe/{org.slug}/",
                        str(path),
                    ],
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                )
            results[name] = json.loads(out.stdout)
        recorded = WebhookEvent.objects.filter(organization=org, processed_at__isnull=False).count()
        from flexbill.billing.models import Refund

        synced = (
            Refund.objects.filter(organization=org, origin="stripe", stripe_refund_id__startswith="re_")
            .exclude(stripe_refund_id__startswith="re_baseline_")
            .count()
        )
        Refund.objects.filter(organization=org, stripe_refund_id__startswith="re_baseline_").delete()

    rows = []
    for name in ("app", "baseline"):
        r = results[name]
        lat = r["latencies"]
        rows.append(
            (
                name,
                r["ok"],
                r["errors"],
                r["ok"] / r["wall"],
                percentile(lat, 50) * 1000,
                percentile(lat, 95) * 1000,
                percentile(lat, 99) * 1000,
            )
        )
    print_table(
        f"Webhook refund events, gunicorn --workers 2, {args.concurrency} client connections "
        f"(app FLEXBILL_DB_CONN_MAX_AGE={args.conn_max_age})",
        ["server", "ok", "errors", "events/s", "p50 ms", "p95 ms", "p99 ms"],
        rows,
    )
    ratio = rows[0][3] / rows[1][3]
    say(
        f"app/baseline events/s = {ratio:.2f} (goal >= 0.5: {'met' if ratio >= 0.5 else 'MISSED'}); "
        f"{recorded} deliveries processed, {synced} refunds synced by flexbill"
    )
    for name in ("app", "baseline"):
        for sample in results[name]["samples"][:3]:
            say(f"  {name} error sample: {sample}")


class gunicorn:
    """gunicorn --workers 2 on a free loopback port, for the length of a `with` block."""

    def __init__(self, wsgi: str, env: dict):
        from flexbill.ops.localstripe import free_port

        self.port = free_port()
        self.argv = [
            sys.executable,
            "-m",
            "gunicorn",
            wsgi,
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
        ]
        self.env = env

    def __enter__(self) -> str:
        self.process = subprocess.Popen(self.argv, env=self.env, cwd=ROOT)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/")
                conn.getresponse().read()
                # Warm both workers (imports, first DB connection) with a few unsigned requests.
                for _ in range(8):
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    conn.request("POST", "/webhooks/stripe/warmup/", body=b"{}")
                    conn.getresponse().read()
                return url
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gunicorn {self.argv[3]} did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def loadgen(url: str, events_file: str, *, concurrency: int) -> None:
    """The load generator process: POST every event once, `concurrency` at a time; JSON results on stdout."""
    parsed = urllib.parse.urlsplit(url)
    events = json.loads(Path(events_file).read_text())
    latencies, errors, samples = [], 0, []
    lock = threading.Lock()
    position = iter(range(len(events)))

    def worker():
        nonlocal errors
        for i in position:  # shared iterator: each event is posted once
            payload = events[i]
            start = time.perf_counter()
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
            try:
                conn.request(
                    "POST",
                    parsed.path,
                    body=payload.encode(),
                    headers={"Content-Type": "application/json", "Stripe-Signature": signed(payload)},
                )
                response = conn.getresponse()
                body = response.read()
                status = response.status
            except OSError as exc:
                status, body = 0, str(exc).encode()
            finally:
                conn.close()
            elapsed = time.perf_counter() - start
            with lock:
                if status == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1
                    if len(samples) < 5:
                        samples.append(f"{status} {body[:200]!r}")

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    json.dump(
        {"ok": len(latencies), "errors": errors, "wall": wall, "latencies": latencies, "samples": samples}, sys.stdout
    )


if __name__ == "__main__":
    main()
