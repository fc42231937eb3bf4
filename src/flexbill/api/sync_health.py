"""Sync health (API v1): the inbox of Stripe events, how far behind it is, and a retry for what it cannot apply."""

from datetime import datetime
from typing import Annotated

from ninja import Path, Router, Schema

from flexbill.accounts.permissions import Permission
from flexbill.billing.services.inbox_apply import inbox_event_retry
from flexbill.billing.sync_health import inbox_event_get, sync_health
from flexbill.billing.tasks import inbox_apply_soon

from . import schemas
from .access import org_of, require

PathId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
router = Router(tags=["sync health"])
ERRORS = {400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error, 409: schemas.Error}


class StripeEventOut(Schema):
    id: int
    event_id: str
    event_type: str
    received_at: datetime
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    outcome: str


class SyncHealthOut(Schema):
    unapplied: int
    waiting: int
    failed: int
    lag_seconds: float
    oldest_unapplied_at: datetime | None
    last_applied_at: datetime | None
    problems: list[StripeEventOut]


@router.get("/sync-health", response={200: SyncHealthOut, **ERRORS})
def sync_health_get(request):
    require(request, Permission.INVOICES_VIEW)
    return sync_health(organization=org_of(request))


@router.post("/sync-health/events/{event_id}/retry", response={200: StripeEventOut, **ERRORS})
def sync_health_event_retry(request, event_id: PathId):
    event = inbox_event_get(organization=org_of(request), event_id=event_id)
    return inbox_event_retry(event=event, actor=request.auth, on_retry=inbox_apply_soon)
