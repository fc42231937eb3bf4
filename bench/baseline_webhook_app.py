"""Bare WSGI baseline for bench.webhooks: verify the Stripe signature and write the same rows with plain SQL.

One transaction per delivery: the webhook event row and an upsert of the refund, nothing else (no Django, no
call to Stripe, no derived amounts, no audit). One persistent connection per worker process.
Run: gunicorn bench.baseline_webhook_app:application (DATABASE_URL in the environment).
"""

import hashlib
import hmac
import json
import os
import time

import psycopg

TOLERANCE = 300
_conn = None


def _db():
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(os.environ["DATABASE_URL"])
    return _conn


def _verified(body: bytes, header: str, secret: str) -> bool:
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    signatures = [v for k, v in parts if k == "v1"]
    if not stamps or not signatures or not stamps[0].isdigit():
        return False
    expected = hmac.new(secret.encode(), f"{stamps[0]}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(stamps[0])) <= TOLERANCE
    return fresh and any(hmac.compare_digest(expected, s) for s in signatures)


def _answer(start_response, status: str, detail: str):
    body = json.dumps({"detail": detail}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    slug = path.rstrip("/").rsplit("/", 1)[-1]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    signature = environ.get("HTTP_STRIPE_SIGNATURE", "")
    conn = _db()
    with conn.transaction():
        row = conn.execute(
            "SELECT id, stripe_webhook_secret FROM accounts_organization WHERE slug = %s", [slug]
        ).fetchone()
        if row is None or not _verified(body, signature, row[1]):
            return _answer(start_response, "400 Bad Request", "Invalid or expired Stripe-Signature.")
        org_id = row[0]
        event = json.loads(body)
        refund = event["data"]["object"]
        conn.execute(
            "INSERT INTO billing_webhookevent (organization_id, org_slug, event_id, event_type, headers, body, "
            "received_at, verified, processed_at, outcome, last_error, attempts, body_size, body_sha256) "
            "VALUES (%s, %s, %s, %s, %s, %s, now(), true, now(), 'Refund recorded.', '', 0, %s, %s)",
            [
                org_id,
                slug,
                event["id"],
                event["type"],
                json.dumps({"Stripe-Signature": signature}),
                body.decode(),
                len(body),
                hashlib.sha256(body).hexdigest(),
            ],
        )
        conn.execute(
            "INSERT INTO billing_refund (organization_id, charge_id, reference, amount, currency, reason, note, "
            "status, failure_reason, origin, stripe_refund_id, request_fingerprint, credit_note_requested, created_at, "
            "updated_at) "
            "SELECT %s, c.id, gen_random_uuid(), %s, %s, 'other', 'Refunded in Stripe', %s, '', 'stripe', %s, '', "
            "false, now(), now() FROM billing_charge c WHERE c.organization_id = %s AND c.stripe_charge_id = %s "
            "ON CONFLICT (stripe_refund_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()",
            [org_id, refund["amount"], refund["currency"], refund["status"], refund["id"], org_id, refund["charge"]],
        )
    return _answer(start_response, "200 OK", "Refund recorded.")
