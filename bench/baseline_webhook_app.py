"""Bare WSGI baseline for the webhook benchmarks: verify the Stripe signature and write the rows with plain SQL.

One transaction per delivery: the webhook event row and, for a Refund object, an upsert of the refund; nothing
else (no Django, no call to Stripe, no derived amounts, no audit). One connection per server thread, kept.
SQLite (the same options as flexbill: WAL, IMMEDIATE transactions, 30 s busy timeout) or PostgreSQL, from
DATABASE_URL. Run: gunicorn bench.baseline_webhook_app:application.
"""

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime

import psycopg
from cryptography.fernet import Fernet, MultiFernet

TOLERANCE = 300
_local = threading.local()
URL = os.environ["DATABASE_URL"]
SQLITE = URL.startswith("sqlite")
# Signing secrets are stored encrypted, as flexbill stores them; like flexbill, decrypt each once per process.
_FERNET = MultiFernet([Fernet(k.strip()) for k in os.environ["FLEXBILL_ENCRYPTION_KEYS"].split(",") if k.strip()])
_secrets: dict[str, str] = {}

WEBHOOK_INSERT = (
    "INSERT INTO billing_webhookevent (organization_id, org_slug, event_id, event_type, headers, body, "
    "received_at, verified, processed_at, outcome, last_error, attempts, body_size, body_sha256) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, true, {p}, 'Refund recorded.', '', 0, {p}, {p})"
)
REFUND_UPSERT = (
    "INSERT INTO billing_refund (organization_id, charge_id, reference, amount, currency, reason, note, "
    "status, failure_reason, origin, stripe_refund_id, request_fingerprint, credit_note_requested, created_at, "
    "updated_at) "
    "SELECT {p}, c.id, {p}, {p}, {p}, 'other', 'Refunded in Stripe', {p}, '', 'stripe', {p}, '', "
    "false, {p}, {p} FROM billing_charge c WHERE c.organization_id = {p} AND c.stripe_charge_id = {p} "
    "ON CONFLICT (stripe_refund_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at"
)
P = "?" if SQLITE else "%s"


class _Db:
    def __init__(self):
        if SQLITE:
            self.conn = sqlite3.connect(URL.split("sqlite:///", 1)[1], timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        else:
            self.conn = psycopg.connect(URL, autocommit=True)

    def run(self, work):
        if SQLITE:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(self.conn)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return result
        with self.conn.transaction():
            return work(self.conn)


def _db() -> _Db:
    if getattr(_local, "db", None) is None:
        _local.db = _Db()
    return _local.db


def _verified(body: bytes, header: str, secret: str) -> bool:
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    signatures = [v for k, v in parts if k == "v1"]
    if not stamps or not signatures or not stamps[0].isdigit():
        return False
    expected = hmac.new(secret.encode(), f"{stamps[0]}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(stamps[0])) <= TOLERANCE
    return fresh and any(hmac.compare_digest(expected, s) for s in signatures)


def _secret(slug: str, stored: str) -> str:
    if slug not in _secrets:
        _secrets[slug] = _FERNET.decrypt(stored.encode()).decode()
    return _secrets[slug]


def _answer(start_response, status: str, detail: str):
    body = json.dumps({"detail": detail}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    slug = path.rstrip("/").rsplit("/", 1)[-1]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    signature = environ.get("HTTP_STRIPE_SIGNATURE", "")

    def work(conn):
        row = conn.execute(
            f"SELECT id, stripe_webhook_secret FROM accounts_organization WHERE slug = {P}", [slug]
        ).fetchone()
        if row is None or not _verified(body, signature, _secret(slug, row[1])):
            return False
        org_id, now = row[0], datetime.now(UTC)
        if SQLITE:  # as Django stores datetimes in SQLite: naive UTC text
            now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        event = json.loads(body)
        obj = event["data"]["object"]
        conn.execute(
            WEBHOOK_INSERT.format(p=P),
            [
                org_id,
                slug,
                event["id"],
                event["type"],
                json.dumps({"Stripe-Signature": signature}),
                body.decode(),
                now,
                now,
                len(body),
                hashlib.sha256(body).hexdigest(),
            ],
        )
        if obj.get("object") == "refund":
            reference = uuid.uuid4().hex if SQLITE else str(uuid.uuid4())
            conn.execute(
                REFUND_UPSERT.format(p=P),
                [org_id, reference, obj["amount"], obj["currency"], obj["status"], obj["id"], now, now, org_id]
                + [obj["charge"]],
            )
        return True

    if not _db().run(work):
        return _answer(start_response, "400 Bad Request", "Invalid or expired Stripe-Signature.")
    return _answer(start_response, "200 OK", "Refund recorded.")
