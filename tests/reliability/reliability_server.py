"""The real HTTP server (gunicorn, several processes) for reliability tests, pointed at the test database."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from django.conf import settings

from flexbill.ops.management.commands.serve import gunicorn_argv
from flexbill_demo.localstripe import free_port

SERVER_SECRET_KEY = "reliability-tests-secret-key-not-for-production-0123456789abcdefghij"


def database_url() -> str:
    """The test database as a DATABASE_URL, for processes outside pytest (the test DB name is only known now)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(log_path: Path, *, workers: int = 3, threads: int = 2, env: dict | None = None) -> Server:
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "FLEXBILL_STRIPE_API_BASE": settings.FLEXBILL_STRIPE_API_BASE,
        "FLEXBILL_LOCAL_STRIPE_WORKAROUNDS": "1" if settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS else "",
        "FLEXBILL_SECRET_KEY": SERVER_SECRET_KEY,
        # The server must decrypt the secrets this test process stored.
        "FLEXBILL_ENCRYPTION_KEYS": ",".join(settings.FLEXBILL_ENCRYPTION_KEYS),
        "FLEXBILL_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set in-process by the browser tests; not for a server
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        # Exactly what `flexbill serve` runs.
        gunicorn_argv(host="127.0.0.1", port=port, workers=workers, threads=threads),
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(process=process, port=port, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited while starting:\n{server.log()}")
        try:
            requests.get(f"{server.url}/api/v1/invoices", timeout=10)
            return server
        except requests.RequestException:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"gunicorn did not start:\n{server.log()}")


@dataclass
class Worker:
    """`flexbill worker` as shipped (the database task backend), on the test database."""

    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        Server.stop(self)  # same signals, same patience


def start_worker(log_path: Path, *, env: dict | None = None) -> Worker:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "FLEXBILL_STRIPE_API_BASE": settings.FLEXBILL_STRIPE_API_BASE,
        "FLEXBILL_LOCAL_STRIPE_WORKAROUNDS": "1" if settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS else "",
        "FLEXBILL_SECRET_KEY": SERVER_SECRET_KEY,
        "FLEXBILL_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    environment.pop("FLEXBILL_TASKS_BACKEND", None)
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "flexbill.cli", "worker", "--reconcile-interval", "0"],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return Worker(process=process, log_path=log_path)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class FailingStripe:
    """A stand-in for Stripe during an outage: every request answers 500, or answers only after `delay` seconds
    (longer than flexbill waits). The one kind of outage the local Stripe cannot produce."""

    def __init__(self, *, status: int = 500, delay: float = 0.0):
        status_code, wait = status, delay

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(wait)
                body = b'{"error": {"message": "Stripe is having a bad day", "type": "api_error"}}'
                self.send_response(status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # flexbill may have given up waiting
                    self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer  # noqa: N815 - http.server's naming

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
