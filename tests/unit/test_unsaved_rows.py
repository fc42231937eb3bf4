"""Rows built from their values in column order (`unsaved`) are the rows Django's keyword construction builds:
this fails when a model's columns change and its `unsaved` does not follow."""

import uuid
from datetime import UTC, datetime

import pytest

from flexbill.audit.models import AuditEvent
from flexbill.outbox.models import OutboxEvent

AT = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
OUTBOX = {
    "organization_id": 7,
    "event_id": uuid.UUID(int=5),
    "type": "refund.created",
    "refund_id": 11,
    "payload": {"object": "event"},
    "created_at": AT,
}
AUDIT = {
    "organization_id": 7,
    "actor_type": "user",
    "actor_user_id": 3,
    "actor_label": "ana@example.com",
    "action": "refund.requested",
    "object_type": "refund",
    "object_id": "11",
    "invoice_id": 9,
    "before": {"status": "requested"},
    "after": {"status": "succeeded"},
    "message": "Refund sent",
}


def columns(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields}


@pytest.mark.parametrize(("model", "values"), [(OutboxEvent, OUTBOX), (AuditEvent, AUDIT)])
def test_a_row_built_in_column_order_equals_the_row_built_by_keyword(model, values):
    built = model.unsaved(**values)

    assert columns(built) == columns(model(**values))
    assert built._state.adding and built.pk is None
    assert {name: columns(built)[name] for name in values} == values
