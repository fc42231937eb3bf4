"""Local integrators for outgoing webhook tests, all on 127.0.0.1: a receiver that records what it is sent, one that
answers with a redirect, and a bare listener that only counts connections."""

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records each request (headers, body) and answers with the next queued status (200 when none is queued)."""

    def __init__(self, *, location: str | None = None, tls: ssl.SSLContext | None = None, on_request=None):
        """`on_request()`: runs after a request is recorded and before it is answered (a test may kill the sender)."""
        self.requests: list[tuple[dict, bytes]] = []
        self.on_request = on_request
        self.paths: list[str] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                receiver.paths.append(self.path)
                if receiver.on_request is not None:
                    receiver.on_request()
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else (302 if location else 200))
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ConnectionCounter:
    """Accepts connections on 127.0.0.1 and closes them at once, counting: proof of whether anything connected."""

    def __init__(self):
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


class SilentServer(ConnectionCounter):
    """Accepts connections and never answers: a receiver that hangs."""

    def _run(self):
        held = []
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            held.append(conn)
        for conn in held:
            conn.close()
