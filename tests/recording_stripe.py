"""A stand-in Stripe that records the headers of every request and answers 500 to all: the one way to see what
flexbill sends that the local Stripe ignores (the Idempotency-Key)."""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def recording_stripe(on_request=None):
    """Yields (base URL, list of request headers, each a dict with the form-encoded body under "body", appended to
    as requests arrive). `on_request()`, if given,
    runs in the server's thread while each request waits for its answer."""
    received: list[dict] = []

    class Recording(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            received.append({**self.headers, "body": body})
            if on_request is not None:
                on_request()
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "down", "type": "api_error"}}')

        do_GET = do_POST  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
