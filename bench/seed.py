"""Seed a large billing dataset with COPY: invoices (one line each), charges and refunds across 20 organizations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flexbill_bench \
        .venv/bin/python -m bench.seed [--invoices N] [--reset]

Derived columns are computed with flexbill.billing.rules, so they are what services.charge_refresh /
invoice_refresh would store. Foreign-key triggers are skipped during COPY (session_replication_role=replica):
ids are assigned here, so the references are right by construction. No audit events are written.
"""

import argparse
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from .common import BENCH_PASSWORD, WEBHOOK_SECRET, migrate, progress_bar, say, setup_django

ORGS = 20
CUSTOMERS_PER_ORG = 500
BATCH = 20_000
ORG_SLUG = "bench-{:02d}"

# Invoice payment method -> (weight, charge source, Stripe payment method type)
METHODS = {
    "stripe_card": (55, "stripe", "card"),
    "stripe_sepa": (14, "stripe", "sepa_debit"),
    "stripe_ach": (8, "stripe", "us_bank_account"),
    "stripe_bacs": (5, "stripe", "bacs_debit"),
    "bank_transfer": (12, "xero", ""),
    "cash": (4, "manual", ""),
    "other": (2, "quickbooks", ""),
}
# Scenario -> (weight, payment statuses of its charges in order; "part" = a partial success)
SCENARIOS = {
    "draft": (3, ()),
    "voided": (2, ()),
    "unpaid": (5, ()),
    "pending": (2, ("pending",)),
    "failed": (3, ("failed",)),
    "paid": (22, ("success",)),
    "retry_paid": (30, ("failed", "success")),
    "two_parts": (20, ("part", "success")),
    "three": (8, ("part", "failed", "success")),
    "partial": (5, ("part",)),
}
REFUND_RATE = 0.125  # of successful Stripe charges
# Refund kind -> (weight, status, full amount?)
REFUND_KINDS = {
    "full": (40, "succeeded", True),
    "part": (35, "succeeded", False),
    "pending": (12, "pending", False),
    "failed": (8, "failed", False),
    "canceled": (5, "canceled", False),
}
RESERVING = {"requested", "pending", "requires_action", "succeeded"}
LINE_DESCRIPTIONS = ["Dedicated desk", "Hot desk", "Private office", "Meeting room hours", "Virtual office"]

INVOICE_COLS = (
    "id, organization_id, number, customer_id, currency, total, payment_method, status, issued_on, "
    "amount_paid, amount_refunded, created_at, updated_at"
)
LINE_COLS = "id, invoice_id, position, description, amount"
CHARGE_COLS = (
    "id, organization_id, invoice_id, amount, currency, source, payment_status, status, reference, "
    "payment_method_type, payment_method_brand, payment_method_bank, payment_method_last4, "
    "stripe_payment_intent_id, stripe_charge_id, failure_message, charged_at, "
    "amount_refunded, amount_reserved, created_at, updated_at"
)
# What Stripe reports a payment was made with (the charge's payment_method_details), per payment method type.
PAYMENT_DETAILS = {
    "card": ("visa", "", "4242"),
    "sepa_debit": ("", "", "3000"),
    "us_bank_account": ("", "STRIPE TEST BANK", "6789"),
    "bacs_debit": ("", "", "2345"),
}
REFUND_COLS = (
    "id, organization_id, charge_id, reference, amount, currency, reason, note, status, failure_reason, "
    "origin, stripe_refund_id, request_fingerprint, credit_note_requested, created_at, updated_at"
)
TABLES = (
    "billing_refund",
    "billing_creditnote",
    "billing_charge",
    "billing_invoiceline",
    "billing_invoice",
    "billing_paymentmethod",
    "billing_customer",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--reset", action="store_true", help="truncate the billing tables first")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    setup_django()
    migrate()
    from django.db import connection

    from flexbill.billing import rules

    rng = random.Random(args.seed)
    with connection.cursor() as cur:
        if args.reset:
            cur.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
            say("Truncated the billing tables.")
        orgs = _organizations()
        customers = _customers(cur, orgs)
        ids = {
            t: _next_id(cur, t) for t in ("billing_invoice", "billing_invoiceline", "billing_charge", "billing_refund")
        }
    gen = _Generator(rng, rules, orgs, customers, ids)
    raw = connection.connection  # the psycopg 3 connection under Django's
    counts = dict.fromkeys(("invoices", "lines", "charges", "refunds"), 0)
    start = time.perf_counter()
    copy_seconds = 0.0  # the COPY alone; generating the rows in Python is timed apart
    with progress_bar() as bar:
        task = bar.add_task("Seeding invoices", total=args.invoices)
        done = 0
        while done < args.invoices:
            n = min(BATCH, args.invoices - done)
            batch = gen.batch(n, done, args.invoices)
            copy_start = time.perf_counter()
            with raw.transaction(), raw.cursor() as cur:
                # Move the id sequences past this batch first, so that inserts made meanwhile never collide.
                for table, next_id in gen.ids.items():
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {next_id})")
                cur.execute("SET LOCAL session_replication_role = replica")
                for table, cols, key in (
                    ("billing_invoice", INVOICE_COLS, "invoices"),
                    ("billing_invoiceline", LINE_COLS, "lines"),
                    ("billing_charge", CHARGE_COLS, "charges"),
                    ("billing_refund", REFUND_COLS, "refunds"),
                ):
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        copy.write("".join(batch[key]))
                    counts[key] += len(batch[key])
            copy_seconds += time.perf_counter() - copy_start
            done += n
            rows = sum(counts.values())
            bar.update(
                task,
                completed=done,
                description=f"Seeding invoices ({rows / copy_seconds:,.0f} rows/s of COPY)",
            )
    seeding_seconds = time.perf_counter() - start
    with connection.cursor() as cur:
        cur.execute("ANALYZE billing_invoice, billing_invoiceline, billing_charge, billing_refund, billing_customer")
    total = time.perf_counter() - start
    rows = sum(counts.values())
    say(", ".join(f"{v:,} {k}" for k, v in counts.items()) + f" across {len(orgs)} organizations")
    say(
        f"{rows:,} rows in {copy_seconds:.1f}s of COPY = {rows / copy_seconds:,.0f} rows/s "
        f"({seeding_seconds - copy_seconds:.1f}s generating them; {total:.1f}s in all with ANALYZE)"
    )


class _Generator:
    def __init__(self, rng, rules, orgs, customers, ids):
        self.rng, self.rules, self.orgs, self.customers = rng, rules, orgs, customers
        self.ids = dict(ids)
        self.methods = list(METHODS)
        self.method_weights = [METHODS[m][0] for m in self.methods]
        self.scenarios = list(SCENARIOS)
        self.scenario_weights = [SCENARIOS[s][0] for s in self.scenarios]
        self.refund_kinds = list(REFUND_KINDS)
        self.refund_weights = [REFUND_KINDS[k][0] for k in self.refund_kinds]
        self.now = datetime.now(UTC)
        self.span = timedelta(days=3 * 365)

    def _id(self, table):
        value = self.ids[table]
        self.ids[table] += 1
        return value

    def batch(self, n, offset, total):
        rng = self.rng
        out = {"invoices": [], "lines": [], "charges": [], "refunds": []}
        methods = rng.choices(self.methods, self.method_weights, k=n)
        scenarios = rng.choices(self.scenarios, self.scenario_weights, k=n)
        for i in range(n):
            # Oldest first, so ids grow with time as they do in production.
            created = self.now - self.span * (1 - (offset + i) / total)
            self._invoice(out, methods[i], scenarios[i], created)
        return out

    def _invoice(self, out, method, scenario, created):
        rng, rules = self.rng, self.rules
        org_index = rng.randrange(len(self.orgs))
        org_id, currency = self.orgs[org_index]
        customer_id = rng.choice(self.customers[org_id])
        invoice_id = self._id("billing_invoice")
        total = rng.randrange(20, 5000) * 100
        _, source, pm_type = METHODS[method]
        stripe = source == "stripe"
        statuses = SCENARIOS[scenario][1]
        if not stripe:
            statuses = tuple(s for s in statuses if s not in ("failed", "pending"))  # recorded payments succeed
        ts = created.isoformat()
        charges = []
        paid = 0
        for status in statuses:
            if status == "part":
                amount, status = max(100, total // rng.choice((2, 3, 4))), "success"
            else:
                amount = max(total - paid, 1)
            if status == "success":
                paid += amount
            charges.append(
                self._charge(out, org_id, invoice_id, amount, currency, source, pm_type, status, created, ts)
            )
        current = {"draft": "draft", "voided": "voided"}.get(scenario, "awaiting_payment")
        invoice_status = rules.invoice_status(
            current=current, total=total, charge_statuses=[c[0] for c in charges], amount_paid=paid
        )
        refunded = sum(c[1] for c in charges)
        out["invoices"].append(
            f"{invoice_id}\t{org_id}\tB{org_id}-{invoice_id:08d}\t{customer_id}\t{currency}\t{total}\t{method}\t"
            f"{invoice_status}\t{created.date().isoformat()}\t{paid}\t{refunded}\t{ts}\t{ts}\n"
        )
        out["lines"].append(
            f"{self._id('billing_invoiceline')}\t{invoice_id}\t1\t{rng.choice(LINE_DESCRIPTIONS)}\t{total}\n"
        )

    def _charge(self, out, org_id, invoice_id, amount, currency, source, pm_type, payment_status, at, ts):
        rng, rules = self.rng, self.rules
        charge_id = self._id("billing_charge")
        refunds = []
        if source == "stripe" and payment_status == "success" and rng.random() < REFUND_RATE:
            kind = rng.choices(self.refund_kinds, self.refund_weights)[0]
            _, status, full = REFUND_KINDS[kind]
            refund_amount = amount if full or amount < 2 else rng.randrange(1, amount)
            refunds.append((status, refund_amount))
        refunded = sum(a for s, a in refunds if s == "succeeded")
        reserved = sum(a for s, a in refunds if s in RESERVING)
        status = rules.charge_status(
            payment_status=payment_status, amount=amount, amount_refunded=refunded, marked_refunded=False
        )
        if source == "stripe":
            stripe_ids = f"pi_bench{charge_id}\tch_bench{charge_id}"
            reference = ""
        else:
            stripe_ids = "\\N\t\\N"
            reference = f"{source.upper()}-{charge_id}"
        failure = "Your card was declined." if payment_status == "failed" else ""
        brand, bank, last4 = PAYMENT_DETAILS.get(pm_type, ("", "", ""))
        out["charges"].append(
            f"{charge_id}\t{org_id}\t{invoice_id}\t{amount}\t{currency}\t{source}\t{payment_status}\t{status}\t"
            f"{reference}\t{pm_type}\t{brand}\t{bank}\t{last4}\t{stripe_ids}\t{failure}\t{ts}\t"
            f"{refunded}\t{reserved}\t{ts}\t{ts}\n"
        )
        for status_r, refund_amount in refunds:
            refund_id = self._id("billing_refund")
            rts = (at + timedelta(days=rng.randrange(1, 60))).isoformat()
            origin = rng.choice(("app", "app", "stripe"))
            failure_r = "The bank declined the refund." if status_r == "failed" else ""
            out["refunds"].append(
                f"{refund_id}\t{org_id}\t{charge_id}\t{uuid.UUID(int=rng.getrandbits(128), version=4)}\t"
                f"{refund_amount}\t{currency}\trequested_by_customer\t\t{status_r}\t{failure_r}\t{origin}\t"
                f"re_bench{refund_id}\t\tf\t{rts}\t{rts}\n"
            )
        return status, refunded


def _organizations() -> list[tuple[int, str]]:
    from flexbill.accounts.models import Organization
    from flexbill.accounts.services import organization_create, user_create

    orgs = []
    for i in range(1, ORGS + 1):
        slug = ORG_SLUG.format(i)
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            org = organization_create(
                slug=slug,
                name=f"Bench Workspace {i}",
                stripe_secret_key=f"sk_test_bench{i:02d}",
                stripe_webhook_secret=WEBHOOK_SECRET,
                currency=("usd", "eur", "gbp")[i % 3],
            )
            user_create(organization=org, email=f"owner@{slug}.example", password=BENCH_PASSWORD, role="owner")
        orgs.append((org.pk, org.default_currency))
    return orgs


def _customers(cur, orgs) -> dict[int, list[int]]:
    by_org = {}
    for org_id, _ in orgs:
        cur.execute("SELECT id FROM billing_customer WHERE organization_id = %s ORDER BY id", [org_id])
        ids = [r[0] for r in cur.fetchall()]
        if len(ids) < CUSTOMERS_PER_ORG:
            cur.execute(
                "INSERT INTO billing_customer (organization_id, name, email, created_at) "
                "SELECT %s, 'Member ' || g, 'member' || g || '@example.com', now() "
                "FROM generate_series(%s, %s) g RETURNING id",
                [org_id, len(ids) + 1, CUSTOMERS_PER_ORG],
            )
            ids += [r[0] for r in cur.fetchall()]
        by_org[org_id] = ids
    return by_org


def _next_id(cur, table: str) -> int:
    cur.execute(
        f"SELECT greatest(coalesce(max(id), 0), nextval(pg_get_serial_sequence('{table}', 'id'))) + 1 FROM {table}"
    )
    return cur.fetchone()[0]


if __name__ == "__main__":
    main()
