"""Crash injection for the crash-recovery tests, kept out of flexbill: a server or worker started with
`crash_env(point)` runs the test settings `crash_settings`, whose app installs here the one crash asked for. The
process then kills itself (SIGKILL: no cleanup, no rollback it could run) at that point.

- after_stripe_refund: Stripe has answered a refund request, flexbill has stored nothing of the answer yet
  (the gateway's refund_create returns into a dead process).
- before_refunds_commit: a transaction that wrote refunds is about to commit (the inbox worker's batch, with its
  refunds, audit events and event states written).
- refund_batch_item_done: a refund batch's item has been recorded (its refund and its result committed), the next
  item not begun.

`crash_env(point, hit=N)` dies at the N-th pass of the point (the first by default): in the middle of a run.
"""

import os
import signal
from pathlib import Path

from django.apps import AppConfig

POINT_VARIABLE = "FLEXBILL_TEST_CRASH_AT"
HIT_VARIABLE = "FLEXBILL_TEST_CRASH_ON_HIT"
POINTS = ("after_stripe_refund", "before_refunds_commit", "refund_batch_item_done")
_passes = [0]


def crash_env(point: str, *, hit: int = 1) -> dict:
    """The environment of a process that dies at the `hit`-th pass of `point`."""
    assert point in POINTS, point
    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    return {
        "DJANGO_SETTINGS_MODULE": "crash_settings",
        "PYTHONPATH": path,
        POINT_VARIABLE: point,
        HIT_VARIABLE: str(hit),
    }


def _die() -> None:
    _passes[0] += 1
    if _passes[0] >= int(os.environ.get(HIT_VARIABLE, "1")):
        os.kill(os.getpid(), signal.SIGKILL)


def _crash_after_stripe_refund() -> None:
    from flexbill.stripe_gateway.client import StripeGateway

    refund_create = StripeGateway.refund_create

    def answered_then_die(self, **kwargs):
        answer = refund_create(self, **kwargs)
        _die()
        return answer  # before the N-th pass, the process goes on as if nothing happened

    StripeGateway.refund_create = answered_then_die


def _crash_before_refunds_commit() -> None:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.signals import connection_created

    from flexbill.billing.models import Refund

    writes_refunds = f'INSERT INTO "{Refund._meta.db_table}"'.upper()

    def watch(execute, sql, params, many, context):
        connection = context["connection"]
        if connection.in_atomic_block and sql.lstrip().upper().startswith(writes_refunds):
            connection.refunds_written = True
        return execute(sql, params, many, context)

    def on_connection(sender, connection, **kwargs):
        if watch not in connection.execute_wrappers:
            connection.execute_wrappers.append(watch)

    commit = BaseDatabaseWrapper.commit

    def die_instead_of_committing_refunds(self):
        if getattr(self, "refunds_written", False):
            _die()
        return commit(self)

    connection_created.connect(on_connection, weak=False)
    BaseDatabaseWrapper.commit = die_instead_of_committing_refunds


def _crash_after_refund_batch_item() -> None:
    from flexbill.refund_batches import services

    item_record = services._item_record

    def recorded_then_die(*args, **kwargs):
        recorded = item_record(*args, **kwargs)
        _die()
        return recorded

    services._item_record = recorded_then_die


class CrashPointsConfig(AppConfig):
    name = "crash_points"
    label = "crash_points"

    def ready(self):
        point = os.environ.get(POINT_VARIABLE)
        if point not in POINTS:
            raise RuntimeError(f"{POINT_VARIABLE} must be one of {', '.join(POINTS)}, not {point!r}.")
        {
            "after_stripe_refund": _crash_after_stripe_refund,
            "before_refunds_commit": _crash_before_refunds_commit,
            "refund_batch_item_done": _crash_after_refund_batch_item,
        }[point]()
