"""flexbill.bulk_sql writes exactly what the ORM would, on SQLite and on PostgreSQL (arrays and COPY there)."""

import pytest

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, audit_event
from flexbill.billing.models import Invoice
from flexbill.bulk_sql import rows_insert, rows_update

pytestmark = pytest.mark.django_db

# Characters that COPY's text format and SQL quoting must escape: tab, newline, backslash, quotes, and beyond ASCII.
AWKWARD = "tab\there\nnew line \\N back\\slash 'single' \"double\" € ½ ٣ 𝟘 \r end"


@pytest.mark.nostripe
def test_rows_insert_stores_every_value_as_given_including_escapes_nulls_and_json(org):
    events = [
        audit_event(
            organization_id=org.pk,
            actor=SYSTEM,
            action="refund.synced",
            obj=org,
            before=None if n % 2 else {"note": AWKWARD, "amount": n},
            after={"nested": {"list": [1, None, AWKWARD]}, "n": n},
            message=AWKWARD if n % 3 else "",
            invoice_id=None,
        )
        for n in range(7)
    ]

    rows_insert(AuditEvent, events)

    stored = list(AuditEvent.objects.filter(organization_id=org.pk, action="refund.synced").order_by("pk"))
    assert [(e.before, e.after, e.message, e.invoice_id) for e in stored] == [
        (e.before, e.after, e.message, None) for e in events
    ]
    assert all(e.at is not None for e in stored)  # auto_now_add filled as save() would


def test_rows_update_writes_each_rows_own_values_and_leaves_other_rows_alone(org, make_customer, make_invoice):
    customer, _ = make_customer(org)
    invoices = [make_invoice(org, customer, total=1000 + n) for n in range(4)]
    untouched = invoices.pop()
    for n, invoice in enumerate(invoices):
        invoice.amount_paid = 10 * n
        invoice.number = f"{AWKWARD[:30]}{n}"

    rows_update(Invoice, invoices, ["amount_paid", "number"])

    stored = Invoice.objects.filter(pk__in=[i.pk for i in invoices])
    assert {i.pk: (i.amount_paid, i.number) for i in stored} == {i.pk: (i.amount_paid, i.number) for i in invoices}
    kept = Invoice.objects.get(pk=untouched.pk)
    assert (kept.amount_paid, kept.number) == (untouched.amount_paid, untouched.number)
