"""The public events: what integrators receive, built from flexbill's domain objects (schema/v1.schema.json).

Each builder returns an unsaved OutboxEvent; the service that made the change inserts it in the same transaction
(outbox/services.py: outbox_record). The payload names its fields here, one by one: renaming a model field or an
audit key changes nothing an integrator sees, and a change of shape here fails the contract tests until
VERSION is raised (tests/contract).
"""

import uuid
from datetime import datetime

from django.utils import timezone

from flexbill.choices import RefundStatus

from .models import OutboxEvent

VERSION = "1"
VERSION_HEADER = "Flexbill-Version"

REFUND_CREATED = "refund.created"
REFUND_SUCCEEDED = "refund.succeeded"
REFUND_FAILED = "refund.failed"
REFUND_CANCELED = "refund.canceled"
REFUND_AWAITING_APPROVAL = "refund.awaiting_approval"
REFUND_APPROVED = "refund.approved"
REFUND_REJECTED = "refund.rejected"  # by an approver, or its approval expired
CHARGE_UPDATED = "charge.updated"
INVOICE_UPDATED = "invoice.updated"
EVENT_TYPES = (
    REFUND_CREATED,
    REFUND_SUCCEEDED,
    REFUND_FAILED,
    REFUND_CANCELED,
    REFUND_AWAITING_APPROVAL,
    REFUND_APPROVED,
    REFUND_REJECTED,
    CHARGE_UPDATED,
    INVOICE_UPDATED,
)

# A refund reaching one of these statuses is an event of its own.
REFUND_OUTCOME_EVENTS = {
    RefundStatus.SUCCEEDED: REFUND_SUCCEEDED,
    RefundStatus.FAILED: REFUND_FAILED,
    RefundStatus.CANCELED: REFUND_CANCELED,
}

# The fields of each object whose earlier value an update event reports (data.previous_attributes).
_PREVIOUS = {
    "refund": ("status", "failure_reason", "stripe_refund_id"),
    "charge": ("status", "amount_refunded"),
    "invoice": ("status", "amount_paid", "amount_refunded"),
}


def refund_object(refund, *, invoice_id: int) -> dict:
    return {
        "object": "refund",
        "id": refund.pk,
        "charge": refund.charge_id,
        "invoice": invoice_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "origin": refund.origin,
        "failure_reason": refund.failure_reason,
        "stripe_refund_id": refund.stripe_refund_id,
    }


def charge_object(charge) -> dict:
    return {
        "object": "charge",
        "id": charge.pk,
        "invoice": charge.invoice_id,
        "amount": charge.amount,
        "currency": charge.currency,
        "source": charge.source,
        "payment_status": charge.payment_status,
        "status": charge.status,
        "amount_refunded": charge.amount_refunded,
        "stripe_charge_id": charge.stripe_charge_id,
    }


def invoice_object(invoice) -> dict:
    return {
        "object": "invoice",
        "id": invoice.pk,
        "number": invoice.number,
        "currency": invoice.currency,
        "total": invoice.total,
        "status": invoice.status,
        "amount_paid": invoice.amount_paid,
        "amount_refunded": invoice.amount_refunded,
    }


def refund_event(event_type: str, refund, *, invoice_id: int, actor, previous: dict | None = None) -> OutboxEvent:
    return _event(
        event_type,
        organization_id=refund.organization_id,
        obj=refund_object(refund, invoice_id=invoice_id),
        actor=actor,
        previous=previous,
        refund_id=refund.pk,
    )


def refund_events(refund, *, invoice_id: int, actor, previous: dict | None = None) -> list[OutboxEvent]:
    """The events of a refund whose status just changed: its outcome, if it has one (succeeded, failed, canceled)."""
    event_type = REFUND_OUTCOME_EVENTS.get(refund.status)
    if event_type is None:
        return []
    return [refund_event(event_type, refund, invoice_id=invoice_id, actor=actor, previous=previous)]


def charge_event(charge, *, actor, previous: dict) -> OutboxEvent:
    return _event(
        CHARGE_UPDATED,
        organization_id=charge.organization_id,
        obj=charge_object(charge),
        actor=actor,
        previous=previous,
    )


def invoice_event(invoice, *, actor, previous: dict) -> OutboxEvent:
    return _event(
        INVOICE_UPDATED,
        organization_id=invoice.organization_id,
        obj=invoice_object(invoice),
        actor=actor,
        previous=previous,
    )


def _event(
    event_type: str, *, organization_id: int, obj: dict, actor, previous: dict | None, refund_id: int | None = None
) -> OutboxEvent:
    event_id = uuid.uuid4()
    now = timezone.now()
    data = {"object": obj}
    if previous is not None:
        fields = _PREVIOUS[obj["object"]]
        data["previous_attributes"] = {k: previous[k] for k in fields if k in previous and previous[k] != obj[k]}
    payload = {
        "id": str(event_id),
        "object": "event",
        "type": event_type,
        "flexbill_version": VERSION,
        "created": _unix(now),
        "organization": organization_id,
        "actor": {"type": actor.type, "label": actor.label},
        "data": data,
    }
    return OutboxEvent.unsaved(
        organization_id=organization_id,
        event_id=event_id,
        type=event_type,
        refund_id=refund_id,
        payload=payload,
        created_at=now,
    )


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())
