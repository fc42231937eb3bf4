"""Writing outbox rows: inside the caller's transaction, all of one operation's events in one INSERT."""

import time

from django.conf import settings
from django.db import transaction

from flexbill.bulk_sql import rows_insert_together

from .models import OutboxEvent

_last_queued = [float("-inf")]


def outbox_record(events: list[OutboxEvent], *, alongside: list[tuple] = ()) -> None:
    """Insert the events with the change they describe (call inside its transaction); the worker is told after
    commit. Rolled back with the change, they are never sent.

    `alongside`: other rows of the same change, [(model, objs)] (its audit events), inserted in the same statement
    where the database allows it."""
    rows_insert_together([*alongside, (OutboxEvent, events)])
    if events:
        transaction.on_commit(outbox_dispatch_soon)


def outbox_dispatch_soon() -> None:
    """Queue the outbox's dispatch.

    With the database task backend a process queues at most one dispatch per FLEXBILL_OUTBOX_QUEUE_COALESCE_SECONDS:
    one dispatch takes every row written before it starts, and the worker's sweep (outbox_sweep) takes the rest
    within FLEXBILL_OUTBOX_SWEEP_INTERVAL at the latest. A request therefore seldom pays for queueing at all.
    """
    from django_tasks_db.backend import DatabaseBackend

    from .dispatch import dispatch_outbox_task

    if isinstance(dispatch_outbox_task.get_backend(), DatabaseBackend):
        now = time.monotonic()
        if now - _last_queued[0] < settings.FLEXBILL_OUTBOX_QUEUE_COALESCE_SECONDS:
            return
        _last_queued[0] = now
    dispatch_outbox_task.enqueue()
