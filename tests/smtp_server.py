"""A minimal SMTP server for tests that run flexbill in another process: records each message it is given.

`on_message(message)` runs once the message's data has arrived and before the server answers 250: a test may kill
the sender there, leaving it unsure whether the message went out."""

import socketserver
import threading
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import Message


class SmtpServer:
    def __init__(self, on_message: Callable[[Message], None] | None = None):
        self.messages: list[Message] = []
        self.on_message = on_message
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())
                self.wfile.flush()

            def handle(self):
                self.reply("220 test ESMTP")
                while line := self.rfile.readline():
                    verb = line.strip().split(b" ", 1)[0].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.reply("250 test")
                    elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                        self.reply("250 OK")
                    elif verb == b"DATA":
                        self.reply("354 go on")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        message = message_from_bytes(data, policy=policy.default)
                        outer.messages.append(message)
                        if outer.on_message is not None:
                            outer.on_message(message)
                        self.reply("250 queued")
                    elif verb == b"QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not here")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
