"""Writing outbox rows: inside the caller's transaction, all of one operation's events in one INSERT."""

from django.db import transaction

from flexbill.bulk_sql import rows_insert_together

from .models import OutboxEvent


def outbox_record(events: list[OutboxEvent], *, alongside: list[tuple] = ()) -> None:
    """Insert the events with the change they describe (call inside its transaction); the worker is told after
    commit. Rolled back with the change, they are never sent.

    `alongside`: other rows of the same change, [(model, objs)] (its audit events), inserted in the same statement
    where the database allows it."""
    rows_insert_together([*alongside, (OutboxEvent, events)])
    if events:
        transaction.on_commit(outbox_dispatch_soon)


def outbox_dispatch_soon() -> None:
    """Queue the outbox's dispatch, unless the worker finds the rows itself.

    With the database task backend (production) the request that made the change queues nothing: the worker's sweep
    (outbox_sweep) sees new rows within FLEXBILL_OUTBOX_SWEEP_INTERVAL, so no request pays for a task row. Other
    backends (the immediate one of the tests) have no sweep: the dispatch is queued after commit.
    """
    from django_tasks_db.backend import DatabaseBackend

    from .dispatch import dispatch_outbox_task

    if not isinstance(dispatch_outbox_task.get_backend(), DatabaseBackend):
        dispatch_outbox_task.enqueue()
