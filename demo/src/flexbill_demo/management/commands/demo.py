import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from flexbill.audit.services import SYSTEM
from flexbill.ops.management.commands.serve import gunicorn_argv
from flexbill.outgoing.services import webhook_endpoint_create
from flexbill_demo.localstripe import free_port, start_local_stripe
from flexbill_demo.seed import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "One command demo: SQLite in ./var, the local Stripe, seeded data, web server and worker."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port, host, **options):
        from rich.console import Console

        console = Console(soft_wrap=True)
        if not 1 <= port <= 65535:
            raise CommandError("--port must be between 1 and 65535.")
        if port_in_use(host, port):
            raise CommandError(f"Port {port} is already in use; pick another with --port.")
        database = settings.DATABASES["default"]["NAME"]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{database}{suffix}"):
                os.remove(f"{database}{suffix}")
        var = settings.VAR_DIR
        mail_dir, webhook_log, secret_file = var / "mail", var / "webhooks-received.log", var / "demo-webhook-secret"
        shutil.rmtree(mail_dir, ignore_errors=True)
        webhook_log.unlink(missing_ok=True)
        secret_file.unlink(missing_ok=True)

        # `kill` (SIGTERM) stops the demo as cleanly as Ctrl-C: children included.
        signal.signal(signal.SIGTERM, _interrupt)
        with console.status("Starting the local Stripe on 127.0.0.1…"):
            stripe = start_local_stripe(free_port())
        children = [stripe.process]
        try:
            settings.FLEXBILL_STRIPE_API_BASE = stripe.url
            settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = True
            settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
            env = {
                **os.environ,
                "FLEXBILL_STRIPE_API_BASE": stripe.url,
                "FLEXBILL_LOCAL_STRIPE_WORKAROUNDS": "1",
                "FLEXBILL_RECONCILE_INTERVAL": "5",
                "FLEXBILL_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP": "1",
            }
            receiver_port = free_port()
            children.append(
                subprocess.Popen(  # noqa: S603
                    [
                        sys.executable,
                        "-m",
                        "flexbill_demo.webhook_receiver",
                        "--port",
                        str(receiver_port),
                        "--secret-file",
                        str(secret_file),
                        "--log",
                        str(webhook_log),
                    ]
                )
            )
            with console.status("Creating the database…"):
                call_command("migrate", verbosity=0)
            org = seed_demo(console=console)
            # A local integrator hears about refunds from now on (events of the seeding are not sent).
            endpoint = webhook_endpoint_create(
                organization=org, url=f"http://127.0.0.1:{receiver_port}/flexbill", actor=SYSTEM
            )
            secret_file.write_text(endpoint.secret)
            children.append(
                subprocess.Popen(  # noqa: S603
                    gunicorn_argv(host=host, port=port, workers=1, threads=8), env=env
                )
            )
            children.append(
                subprocess.Popen(  # noqa: S603
                    [sys.executable, "-m", "flexbill.cli", "worker", "--reconcile-interval", "5"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
            )
            url = f"http://{host}:{port}/"
            console.print(f"\n[bold green]flexbill demo is running:[/] {url}")
            console.print(f"Local Stripe: {stripe.url} (secret key {org.stripe_secret_key})")
            console.print(f"Logins (password [bold]{DEMO_PASSWORD}[/] for all):")
            for email, role in DEMO_LOGINS:
                console.print(f"  {email:<32} {role}")
            demo_env = settings.VAR_DIR / "demo.env"
            demo_env.write_text(
                f"FLEXBILL_STRIPE_API_BASE={stripe.url}\nFLEXBILL_LOCAL_STRIPE_WORKAROUNDS=1\n"
                f"DATABASE_URL=sqlite:///{database}\n"
            )
            console.print("Refund directly in Stripe, as in Stripe's dashboard (flexbill syncs it within seconds):")
            flexbill = os.path.relpath(sys.argv[0]) if os.path.exists(sys.argv[0]) else "flexbill"
            console.print(f"  {flexbill} stripe-refund --org demo --charge CHARGE_ID [--amount MINOR_UNITS]")
            console.print(f"Emails to members and admins: {mail_dir}/")
            console.print(f"Outgoing webhooks received by a local integrator: {webhook_log}")
            console.print("Press Ctrl-C to stop.")
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            raise CommandError("A demo process stopped unexpectedly; shutting down.")
        except KeyboardInterrupt:
            console.print("\nStopping…")
        finally:
            (settings.VAR_DIR / "demo.env").unlink(missing_ok=True)
            for child in reversed(children):
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


DEMO_LOGINS = [
    ("owner@demo.flexbill.test", "Owner"),
    ("admin@demo.flexbill.test", "Admin"),
    ("clerk@demo.flexbill.test", "Billing clerk (custom role: may refund)"),
    ("frontdesk@demo.flexbill.test", "Front desk (member: view only)"),
]


def port_in_use(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) == 0
