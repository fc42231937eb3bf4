import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run background tasks, and enqueue the periodic reconcile of every organization."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reconcile-interval",
            type=float,
            default=settings.FLEXBILL_RECONCILE_INTERVAL,
            help="Seconds between reconcile runs (0 turns the periodic reconcile off).",
        )

    def handle(self, *args, reconcile_interval, **options):
        from flexbill.ops.housekeeping import housekeeping
        from flexbill.stripe_gateway.tasks import enqueue_reconcile_all

        if reconcile_interval > 0:
            stop = threading.Event()

            def schedule():
                while not stop.wait(reconcile_interval):
                    try:
                        enqueue_reconcile_all()
                        housekeeping()
                    except Exception as exc:  # a database hiccup must not end the schedule
                        self.stderr.write(f"Could not enqueue reconcile or clean up: {exc}")

            threading.Thread(target=schedule, name="reconcile-schedule", daemon=True).start()
        call_command("db_worker", interval=1, verbosity=options.get("verbosity", 1))
