"""Real provider clients pointed at recording peers: a twilio HttpClient that records each
request the real `twilio` library builds, and a real SMTP server (aiosmtpd) on loopback."""
from __future__ import annotations

import asyncio
import email
import json
import logging
import socket
from email import policy

from aiosmtpd.controller import Controller
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

AUTH_TOKEN = "test-twilio-auth-token"
TWILIO_SETTINGS = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                   "TWILIO_FROM": "+15005550006"}


class RecordingHttpClient(HttpClient):
    """Answers like Twilio's REST API; `fail` makes the next requests fail (status or exception)."""

    def __init__(self):
        super().__init__(logger=logging.getLogger("twilio-test"), is_async=False)
        self.requests: list[dict] = []
        self.fail: list[int | Exception] = []

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self.requests.append({"method": method, "url": url, "data": dict(data or {}), "auth": auth})
        if self.fail:
            failure = self.fail.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return TwilioResponse(failure, json.dumps({"code": 20500, "message": "Internal Server Error",
                                                       "status": failure}))
        kind = "CA" if url.endswith("/Calls.json") else "SM"
        sid = f"{kind}{len(self.requests):032d}"
        return TwilioResponse(201, json.dumps({"sid": sid, "status": "queued", "to": (data or {}).get("To")}))


def sign(url: str, form: dict) -> str:
    return RequestValidator(AUTH_TOKEN).compute_signature(url, form)


def signed_post(client, path: str, form: dict, base: str = "https://huifang.example.com", forge: bool = False):
    signature = sign(base + path, form)
    if forge:
        signature = sign(base + path, {**form, "Body": "tampered"})
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


class Mailbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = 0      # refuse this many recipients, then accept
        self.down = False    # refuse everything while True (an outage)
        self.refused = 0
        self.delay = 0.0     # seconds before accepting each message (a slow provider)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.down or self.refuse:
            self.refuse = max(self.refuse - 1, 0)
            self.refused += 1
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


class SmtpServer:
    def __init__(self):
        self.mailbox = Mailbox()
        with socket.socket() as probe:  # a free loopback port
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

