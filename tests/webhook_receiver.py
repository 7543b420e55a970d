"""A real HTTP receiver for outbound webhooks, in a thread: it checks every request with the
`standardwebhooks` library's verifier and can be switched to answer 503 (an outage)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, secret: str):
        self.verifier = Webhook(secret)
        self.down = False
        self.received: list[tuple[str, dict]] = []  # (webhook-id, verified payload)
        self.refused: list[str] = []  # signatures the verifier rejected
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.hits += 1
                if receiver.down:
                    return self._reply(503)
                try:
                    payload = receiver.verifier.verify(body, dict(self.headers))
                except WebhookVerificationError as exc:
                    receiver.refused.append(str(exc))
                    return self._reply(400)
                receiver.received.append((self.headers["webhook-id"], payload))
                self._reply(204)

            def _reply(self, status: int):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
