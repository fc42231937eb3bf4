"""Start and stop the local Stripe as a child process (demo, tests, benchmarks)."""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalStripe:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/_config/data", method="DELETE")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback URL built here
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_local_stripe(port: int | None = None, timeout: float = 15.0) -> LocalStripe:
    port = port or free_port()
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "flexbill_demo.localstripe_server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stripe = LocalStripe(process=process, port=port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("The local Stripe exited while starting.")
        try:
            urllib.request.urlopen(f"{stripe.url}/v1/customers", timeout=1).close()  # noqa: S310
            return stripe
        except urllib.error.HTTPError:
            return stripe  # it answers (401 without a key): it is up
        except OSError:
            time.sleep(0.1)
    stripe.stop()
    raise RuntimeError(f"The local Stripe did not start on port {port} within {timeout:.0f}s.")
