import os
import sys

from django.core.management.base import BaseCommand, CommandError

from flexbill.ops.startup import refuse_live_keys_with_local_stripe_workarounds


class Command(BaseCommand):
    help = "Serve the web UI, the REST API and the Stripe webhook endpoint (gunicorn)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--threads", type=int, default=4)

    def handle(self, *args, host, port, workers, threads, **options):
        if not 1 <= port <= 65535:
            raise CommandError("--port must be between 1 and 65535.")
        if workers < 1 or threads < 1:
            raise CommandError("--workers and --threads must be at least 1.")
        refuse_live_keys_with_local_stripe_workarounds()
        os.execv(sys.executable, gunicorn_argv(host=host, port=port, workers=workers, threads=threads))  # noqa: S606


def gunicorn_argv(*, host: str, port: int, workers: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "flexbill.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--access-logfile",
        "-",
        "--log-level",
        "warning",
    ]
