import functools
import os
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from flexbill.billing.tasks import enqueue_reconcile_all, inbox_sweep
from flexbill.cli_arguments import seconds, whole_number
from flexbill.ops.housekeeping import housekeeping
from flexbill.ops.startup import refuse_live_keys_with_local_stripe_workarounds
from flexbill.outbox.dispatch import outbox_sweep
from flexbill.refund_batches.tasks import refund_batches_sweep


class Command(BaseCommand):
    help = (
        "Run background tasks: apply the Stripe inbox, send the outbox's e-mails and outgoing webhooks, run refund "
        "batches, and enqueue the periodic reconcile of every organization (once per interval across all workers)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reconcile-interval",
            type=seconds,
            default=settings.FLEXBILL_RECONCILE_INTERVAL,
            help="Seconds between reconcile runs (0 turns the periodic reconcile off).",
        )
        parser.add_argument(
            "--poll-interval",
            type=seconds,
            default=0.2,
            help="Seconds the task runner waits before looking for new tasks when it has none.",
        )
        parser.add_argument(
            "--nice",
            type=whole_number(0, 19),
            metavar="0-19",
            default=settings.FLEXBILL_WORKER_NICE,
            help="How much the worker yields the CPU to the web server on the same machine (0: not at all).",
        )

    def handle(self, *args, reconcile_interval, poll_interval, nice, **options):
        refuse_live_keys_with_local_stripe_workarounds()
        # Acknowledging Stripe's deliveries is what cannot wait; applying them can (the inbox keeps them).
        os.nice(nice)
        stop = threading.Event()
        # Deliveries queue the inbox's apply as they arrive; this also picks up events due for another attempt,
        # and those stored while no worker ran (at start).
        self._every(stop, settings.FLEXBILL_INBOX_SWEEP_INTERVAL, inbox_sweep, "inbox-sweep", at_start=True)
        # A refund batch whose worker died (its claim ended) is resumed where it stopped.
        sweep_interval = settings.FLEXBILL_REFUND_BATCH_SWEEP_INTERVAL
        self._every(stop, sweep_interval, refund_batches_sweep, "refund-batch-sweep", at_start=True)
        # The same for the outbox: rows whose dispatch was not queued (coalesced), is due again, or was left by a
        # worker that died holding it.
        self._every(stop, settings.FLEXBILL_OUTBOX_SWEEP_INTERVAL, outbox_sweep, "outbox-sweep", at_start=True)
        if reconcile_interval > 0:
            # Each organization's reconcile is queued once per interval however many workers run: the worker that
            # takes its turn queues it (enqueue_reconcile_all).
            reconcile_all = functools.partial(enqueue_reconcile_all, interval=reconcile_interval)
            self._every(stop, reconcile_interval, reconcile_all, "reconcile-schedule")
            # Rows anonymous traffic creates (sign-in counts, rejected deliveries) are dropped once they decide nothing.
            self._every(stop, reconcile_interval, housekeeping, "housekeeping")
        call_command("db_worker", interval=poll_interval, verbosity=options.get("verbosity", 1))

    def _every(self, stop: threading.Event, seconds: float, enqueue, name: str, *, at_start: bool = False) -> None:
        def schedule():
            if at_start:
                self._safely(enqueue, name)
            while not stop.wait(seconds):
                self._safely(enqueue, name)

        threading.Thread(target=schedule, name=name, daemon=True).start()

    def _safely(self, enqueue, name: str) -> None:
        try:
            enqueue()
        except Exception as exc:  # a database hiccup must not end the schedule
            self.stderr.write(f"{name}: could not enqueue: {exc}")
        finally:
            connection.close()
