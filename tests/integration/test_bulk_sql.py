"""flexbill.bulk_sql writes exactly what the ORM would, on SQLite and on PostgreSQL (arrays and COPY there)."""

import json
from datetime import datetime

import pytest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, audit_event
from flexbill.billing.models import Invoice
from flexbill.bulk_sql import rows_insert, rows_insert_returning, rows_update
from flexbill.outbox.models import OutboxEvent

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


@pytest.mark.nostripe
def test_rows_insert_returning_sets_each_objects_own_new_id(org):
    events = [
        audit_event(organization_id=org.pk, actor=SYSTEM, action="refund.synced", obj=org, message=f"{AWKWARD}{n}")
        for n in range(5)
    ]

    rows_insert_returning(AuditEvent, events)

    assert all(e.pk is not None and not e._state.adding for e in events)
    stored = AuditEvent.objects.in_bulk([e.pk for e in events])
    assert [stored[e.pk].message for e in events] == [f"{AWKWARD}{n}" for n in range(5)]


@pytest.mark.nostripe
def test_values_needing_their_fields_preparation_are_stored_as_the_orm_would(org):
    naive = datetime(2026, 3, 1, 12, 0)  # a naive datetime is read in the default time zone, as save() does
    lazy = gettext_lazy("refund.created")  # lazy text is made plain text
    events = [OutboxEvent(organization=org, type=lazy, payload={"n": n}, next_attempt_at=naive) for n in range(2)]

    with pytest.warns(RuntimeWarning, match="naive datetime"):
        rows_insert(OutboxEvent, events[:1])
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        rows_insert_returning(OutboxEvent, events[1:])

    stored = list(OutboxEvent.objects.filter(organization=org).order_by("pk"))
    assert [(e.type, e.payload, e.next_attempt_at) for e in stored] == [
        ("refund.created", {"n": n}, timezone.make_aware(naive)) for n in range(2)
    ]


@pytest.mark.nostripe
def test_json_is_stored_as_the_standard_library_would_write_it_and_refused_where_it_would_refuse(org):
    tricky = {1: "key made text", "big": 2**70, "float": 0.1, "text": AWKWARD, "list": [True, None, -0.0]}
    event = audit_event(organization_id=org.pk, actor=SYSTEM, action="refund.synced", obj=org, after=tricky)

    rows_insert(AuditEvent, [event])

    assert AuditEvent.objects.get(organization_id=org.pk).after == json.loads(json.dumps(tricky))
    undumpable = audit_event(
        organization_id=org.pk, actor=SYSTEM, action="refund.synced", obj=org, after={"at": timezone.now()}
    )
    with pytest.raises(TypeError):
        rows_insert(AuditEvent, [undumpable])
