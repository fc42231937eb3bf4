"""Bulk refunds (API v1): queue a batch of charges to refund, and follow it (the README's REST API section)."""

from datetime import datetime
from typing import Annotated, Literal

from ninja import Path, Router, Schema, Status
from pydantic import ConfigDict, Field, Strict

from flexbill.accounts.permissions import Permission
from flexbill.choices import RefundBatchAmount, RefundReason
from flexbill.refund_batches import selectors
from flexbill.refund_batches.models import RefundBatch
from flexbill.refund_batches.services import batch_counts, refund_batch_create
from flexbill.refund_batches.tasks import refund_batch_queued

from . import schemas
from .access import org_of, require

PathId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
router = Router(tags=["refund batches"])
ERRORS = {400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error, 409: schemas.Error}


class PercentIn(Schema):
    model_config = ConfigDict(extra="forbid")
    percent: Annotated[int, Strict(), Field(ge=1, le=100)]


class RefundBatchIn(Schema):
    charges: list[schemas.Id] = Field(min_length=1)
    amount: Literal[RefundBatchAmount.FULL.value] | PercentIn
    reason: Literal[tuple(RefundReason.values)] = RefundReason.REQUESTED_BY_CUSTOMER.value  # type: ignore[valid-type]
    note: str = Field(default="", max_length=1000)


class RefundBatchOut(Schema):
    id: int
    status: str
    amount: Literal[RefundBatchAmount.FULL.value] | PercentIn
    reason: str
    note: str
    created_at: datetime
    total: int
    pending: int
    succeeded: int
    refused: int
    failed: int
    awaiting_approval: int


class RefundBatchItemOut(Schema):
    charge: int
    status: str
    refund: int | None
    detail: str


class RefundBatchDetailOut(RefundBatchOut):
    items: list[RefundBatchItemOut]


def batch_out(batch: RefundBatch) -> dict:
    counts = batch_counts(batch)
    done = counts["succeeded"] + counts["refused"] + counts["failed"] + counts["awaiting_approval"]
    return {
        "id": batch.pk,
        "status": batch.status,
        "amount": RefundBatchAmount.FULL.value
        if batch.amount_mode == RefundBatchAmount.FULL
        else {"percent": batch.percent},
        "reason": batch.reason,
        "note": batch.note,
        "created_at": batch.created_at,
        **counts,
        "pending": counts["total"] - done,
    }


@router.post("/refund-batches", response={202: RefundBatchOut, **ERRORS})
def refund_batch_post(request, payload: RefundBatchIn, idempotency_key: schemas.IdempotencyKey = None):
    """A repeated Idempotency-Key answers with the batch the first request queued (202, as it stands now) and queues
    nothing more; with another body it is a 409 idempotency_key_reused."""
    batch = refund_batch_create(
        actor=request.auth,
        charge_ids=payload.charges,
        percent=None if payload.amount == RefundBatchAmount.FULL else payload.amount.percent,
        reason=payload.reason,
        note=payload.note,
        on_queued=refund_batch_queued,
        idempotency_key=idempotency_key,
        request_body=schemas.body_as_received(request),
    )
    return Status(202, batch_out(batch))


@router.get("/refund-batches/{batch_id}", response={200: RefundBatchDetailOut, **ERRORS})
def refund_batch_detail(request, batch_id: PathId):
    require(request, Permission.INVOICES_VIEW)
    batch = selectors.refund_batch_get(organization=org_of(request), batch_id=batch_id)
    items = [
        {"charge": item.charge_id, "status": item.status, "refund": item.refund_id, "detail": item.detail}
        for item in batch.items.order_by("position")
    ]
    return {**batch_out(batch), "items": items}
