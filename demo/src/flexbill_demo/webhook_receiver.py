"""A local integrator for the demo: receives flexbill's outgoing webhooks, checks their signature and logs them.

Usage: python -m flexbill_demo.webhook_receiver --port 8421 --secret-file var/demo-webhook-secret --log var/webhooks.log
The secret is read from its file on every request, so the endpoint may be registered after the receiver starts.
"""

import argparse
import json
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from flexbill.outgoing.signing import HEADER, verify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret-file", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
            body = self.rfile.read(length)
            secret = args.secret_file.read_text().strip() if args.secret_file.exists() else ""
            valid = bool(secret) and verify(secret=secret, body=body, header=self.headers.get(HEADER, ""))
            try:
                event = json.loads(body)
            except ValueError:
                event = {}
            line = {
                "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "signature": "valid" if valid else "INVALID",
                "type": event.get("type"),
                "object": f"{event.get('data', {}).get('object')}:{event.get('data', {}).get('id')}",
                "after": event.get("data", {}).get("after"),
            }
            with args.log.open("a") as log:
                log.write(json.dumps(line) + "\n")
            self.send_response(200 if valid else 400)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    args.log.touch()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
