"""A refund request is one transaction before the Stripe call and one after, each with a bounded number of
statements (upper bounds, counted with CaptureQueriesContext; SQLite's figures, PostgreSQL needs one fewer in each
transaction: the audit and outbox rows go in one statement there). Nothing is read or written outside them."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from flexbill.audit.services import Actor
from flexbill.billing import services
from flexbill.outbox.models import OutboxEvent
from flexbill.stripe_gateway.client import StripeGateway

pytestmark = pytest.mark.django_db(transaction=True)


class Timeline:
    """Each statement in order, with the transaction it ran in (0: none) and where the Stripe call came."""

    def __init__(self):
        self.entries: list[tuple[int, str]] = []
        self.transactions = 0
        self._open = False

    def __call__(self, execute, sql, params, many, context):
        if connection.in_atomic_block and not self._open:
            self._open = True
            self.transactions += 1
        elif not connection.in_atomic_block:
            self._open = False
        self.entries.append((self.transactions if self._open else 0, sql))
        return execute(sql, params, many, context)

    def stripe_called(self):
        self._open = False
        self.entries.append((-1, "STRIPE"))

    def split(self):
        at = [sql for _, sql in self.entries].index("STRIPE")
        return self.entries[:at], self.entries[at + 1 :]


@pytest.fixture
def timeline(monkeypatch):
    line = Timeline()
    original = StripeGateway.refund_create

    def refund_create(self, **kwargs):
        line.stripe_called()
        return original(self, **kwargs)

    monkeypatch.setattr(StripeGateway, "refund_create", refund_create)
    # Transactions that open and close without a statement in between still count once each.
    original_enter = transaction.Atomic.__enter__

    def enter(self):
        if not connection.in_atomic_block:
            line._open = False
        return original_enter(self)

    monkeypatch.setattr(transaction.Atomic, "__enter__", enter)
    with connection.execute_wrapper(line):
        yield line


def test_a_refund_request_is_one_transaction_before_stripe_and_one_after_with_bounded_statements(
    org, owner, make_paid_charge, settings, timeline
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # the worker sends
    charge = make_paid_charge(org, amount=9000)
    services.refund_create(
        actor=Actor.for_membership(owner), charge=charge, amount=1000
    )  # an earlier refund on the same charge
    timeline.entries.clear()
    timeline.transactions = 0

    with CaptureQueriesContext(connection) as captured:
        refund = services.refund_create(actor=Actor.for_membership(owner), charge=charge, amount=2000)

    assert refund.status == "succeeded"
    before, after = timeline.split()
    before_tx = {t for t, _ in before if t > 0}
    after_tx = {t for t, _ in after if t > 0}
    assert len(before_tx) == 1 and len(after_tx) == 1, timeline.entries
    outside = [sql for t, sql in timeline.entries if t == 0 and not sql.startswith("BEGIN")]
    assert outside == [], outside
    # Lock the invoice and its charges, its credit notes' money returned, the charge's refunds, insert the refund,
    # update the charge, insert the audit and outbox rows.
    assert len([1 for t, _ in before if t > 0]) <= 8
    # Lock the invoice and its charges, the charge's refunds, update the refund, charge and invoice, credit notes,
    # insert the audit and outbox rows.
    assert len([1 for t, _ in after if t > 0]) <= 9
    captured_sql = [q["sql"] for q in captured.captured_queries]
    statements = [sql for sql in captured_sql if not sql.startswith(("BEGIN", "COMMIT"))]
    assert len(statements) <= 17, "\n".join(sql[:60] for sql in statements)
    assert captured_sql.count("COMMIT") <= 2  # where the backend logs its commits (SQLite)
    # The events of both transactions are in the outbox: requested, then succeeded with charge and invoice.
    assert list(OutboxEvent.objects.order_by("id").values_list("type", flat=True))[-4:] == [
        "refund.created",
        "refund.succeeded",
        "charge.updated",
        "invoice.updated",
    ]
