"""Transports move a stored Message to the customer: Twilio (SMS, voice), SMTP (e-mail), or
the local outbox when no provider is configured. Each raises TransportError on failure."""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from channels.models import Message


class TransportError(Exception):
    """The provider refused or failed; the message stays queued for a retry."""


@dataclass(frozen=True)
class Outgoing:
    """What a transport needs of a message, read before the provider is called so that no
    database transaction (on SQLite: the write lock) stays open across the network call."""
    id: int
    channel: str
    to: str
    subject: str
    body: str
    body_html: str | None
    unsubscribe_url: str | None = None
    attachment: tuple[str, bytes] | None = None


def outgoing(message: Message) -> Outgoing:
    from core.db import db
    from reports.models import GeneratedReport
    from surveys.models import Invitation

    base = current_app.config["PUBLIC_BASE_URL"]
    unsubscribe = attachment = None
    if message.invitation_id and message.channel == "email":
        unsubscribe = f"{base}/u/{db.session.get(Invitation, message.invitation_id).token}"
    if message.report_id:
        report = db.session.get(GeneratedReport, message.report_id)
        attachment = (f"huifang-report-{report.date_from}-{report.date_to}.pdf", report.pdf)
    return Outgoing(id=message.id, channel=message.channel, to=message.to, subject=message.subject,
                    body=message.body, body_html=message.body_html, unsubscribe_url=unsubscribe,
                    attachment=attachment)


def twilio_configured() -> bool:
    cfg = current_app.config
    return bool(cfg["TWILIO_ACCOUNT_SID"] and cfg["TWILIO_AUTH_TOKEN"] and cfg["TWILIO_FROM"])


def transport_for(channel: str) -> str:
    if channel in ("sms", "voice") and twilio_configured():
        return "twilio"
    if channel == "email" and current_app.config["SMTP_URL"]:
        return "smtp"
    return "outbox"


def twilio_client():
    from twilio.rest import Client

    cfg = current_app.config
    # Tests (and proxies) hand in their own HTTP client; production uses twilio's default.
    return Client(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"],
                  http_client=cfg.get("TWILIO_HTTP_CLIENT"))


def send_twilio(message: Outgoing) -> str:
    from twilio.base.exceptions import TwilioException

    base = current_app.config["PUBLIC_BASE_URL"]
    status_url = f"{base}/twilio/status/{message.id}"
    client = twilio_client()
    try:
        if message.channel == "sms":
            sent = client.messages.create(to=message.to, from_=current_app.config["TWILIO_FROM"],
                                          body=message.body, status_callback=status_url)
        else:  # voice: body holds the path of the TwiML that runs the call
            sent = client.calls.create(to=message.to, from_=current_app.config["TWILIO_FROM"],
                                       url=base + message.body, status_callback=status_url,
                                       status_callback_event=["initiated", "ringing", "answered",
                                                              "completed"])
    except TwilioException as exc:
        raise TransportError(str(exc)[:500]) from exc
    except Exception as exc:  # timeouts and connection errors from the HTTP layer
        raise TransportError(f"{type(exc).__name__}: {exc}"[:500]) from exc
    return sent.sid


def _smtp_settings(url: str) -> dict:
    """smtp://user:pass@host:port (STARTTLS when ?starttls=1), smtps:// for implicit TLS."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return {"ssl": parts.scheme == "smtps", "host": parts.hostname or "localhost",
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "user": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "starttls": query.get("starttls", ["0"])[0] in ("1", "true")}


def build_email(message: Outgoing) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = message.to
    email["Subject"] = message.subject
    # Stable across retries, so a receiver can recognise a repeat after a crash.
    email["Message-ID"] = f"<huifang-{message.id}@{urlsplit(current_app.config['PUBLIC_BASE_URL']).hostname}>"
    if message.unsubscribe_url:
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.body)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    if message.attachment:
        name, data = message.attachment
        email.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return email


def send_smtp(message: Outgoing) -> str:
    cfg = _smtp_settings(current_app.config["SMTP_URL"])
    email = build_email(message)
    try:
        if cfg["ssl"]:
            server = smtplib.SMTP_SSL(cfg["host"], cfg["port"], timeout=20,
                                      context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(cfg["host"], cfg["port"], timeout=20)
        with server:
            if cfg["starttls"]:
                server.starttls(context=ssl.create_default_context())
            if cfg["user"]:
                server.login(cfg["user"], cfg["password"] or "")
            refused = server.send_message(email)
    except (smtplib.SMTPException, OSError) as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}"[:500]) from exc
    if refused:
        raise TransportError(f"refused: {refused}"[:500])
    return email["Message-ID"]
