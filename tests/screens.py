"""What every screen test walks: the demo data at small size, and each page a person can open.

The staff pages come from the URL map, so a page someone adds is walked (and checked) with no
change here; its URL arguments take sample values from the demo data, by name."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser

from sqlalchemy import func, select

from core.db import db

ROLES = ("agent", "manager", "admin")
# Not pages: machine endpoints, downloads and actions that need a POST.
NOT_PAGES = {"static", "core.healthz", "core.openapi", "auth.logout"}
NOT_PAGE_PREFIXES = ("api.", "webhooks.")
# Pages worth seeing in more than one state (their query strings).
VARIANTS = {
    "reports.dashboard": ["?date_from=2020-01-01&date_to=2020-01-31&period=week",
                          "?channel=sms&ticket_kind=complaint"],
    "callbacks.work_list": ["?kind=detractor&tier=2", "?mine=1"],
    "channels.outbox": ["?channel=voice", "?state=received"],
}


def seed_small_demo() -> dict[str, list]:
    """The demo at small size, plus what it lacks: a generated report and an API key."""
    from core.accounts import User, issue_api_key
    from demo import seed
    from reports.scheduled import generate_report

    seed(customers=24, months=3, seed_value=11)
    today = date.today()
    generate_report("adhoc", today - timedelta(days=90), today, "month")
    generate_report("monthly", today - timedelta(days=60), today - timedelta(days=31), "week")
    admin = db.session.scalar(select(User).where(User.email == "admin@example.com"))
    issue_api_key("CRM", admin)
    db.session.commit()
    return sample_ids()


def sample_ids() -> dict[str, list]:
    """A few ids for each URL argument: one task per state, one message per channel/purpose…"""
    from callbacks.models import CallbackTask
    from channels.models import Message
    from core.accounts import ApiKey, User
    from reports.models import GeneratedReport

    def firsts(column, *group):
        return sorted(db.session.scalars(select(func.min(column)).group_by(*group)))

    return {"task_id": firsts(CallbackTask.id, CallbackTask.state),
            "message_id": firsts(Message.id, Message.channel, Message.purpose),
            "report_id": firsts(GeneratedReport.id, GeneratedReport.kind),
            "key_id": firsts(ApiKey.id, ApiKey.id),
            "user_id": firsts(User.id, User.role),
            "fmt": ["pdf"]}


def staff_pages(app, ids: dict[str, list], role: str | None = None) -> Iterator[tuple[str, str]]:
    """(endpoint, url) of every GET page, each argument filled with every sample value."""
    from tests.test_access import ALLOWED

    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        endpoint = rule.endpoint
        if ("GET" not in rule.methods or endpoint in NOT_PAGES or endpoint.startswith(NOT_PAGE_PREFIXES)
                or endpoint not in ALLOWED):
            continue
        if role and role != "admin" and role not in ALLOWED[endpoint]:
            continue
        urls = [rule.rule]
        for name in rule.arguments:
            pattern = re.compile(rf"<(?:[\w()=, ']+:)?{name}>")
            urls = [pattern.sub(str(v), u) for u in urls for v in ids.get(name, [1])]
        for url in urls:
            yield endpoint, url
        for query in VARIANTS.get(endpoint, []):
            yield endpoint, rule.rule + query


def customer_pages(locale: str = "zh-CN") -> Iterator[str]:
    """The survey in every state a customer meets: each page, thanks, expired, unknown,
    unsubscribe."""
    from surveys.models import Invitation
    from surveys.services import definition_of
    from tickets.models import Customer

    base = select(Invitation).join(Customer, Invitation.customer_id == Customer.id).where(Customer.locale == locale)
    for state in ("sent", "completed", "expired"):
        invitation = db.session.scalar(base.where(Invitation.state == state).limit(1))
        if invitation is None:
            continue
        if state == "sent":
            for page in definition_of(invitation.version).pages:
                yield f"/s/{invitation.token}?page={page}"
            yield f"/u/{invitation.token}"
        else:
            yield f"/s/{invitation.token}"
            yield f"/s/{invitation.token}/thanks"
    yield "/s/no-such-token-at-all"


def logout(client) -> None:
    from tests.conftest import csrf_token
    client.post("/logout", data={"csrf_token": csrf_token(client, "/login")})


def login_demo(client, role: str) -> None:
    from demo import DEMO_PASSWORD
    from tests.conftest import login

    logout(client)
    login(client, role, email=f"{role}@example.com", password=DEMO_PASSWORD)


class _Text(HTMLParser):
    """The words a person reads: text outside script/style, plus labels in attributes.
    Elements with a lang other than the page's hold text in another language on purpose
    (a message to an English-speaking customer) and are left out."""
    # <code> is for machines (an API key's prefix), <textarea> holds what a person typed.
    SKIP = {"script", "style", "template", "code", "textarea"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []
        self.page_lang = None

    def _hidden(self) -> bool:
        return any(hidden for _, hidden in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.page_lang = attrs.get("lang")
            return
        other_lang = "lang" in attrs and self.page_lang and attrs["lang"] != self.page_lang
        if not self._hidden() and not other_lang:
            for name in ("title", "alt", "placeholder", "aria-label"):
                if attrs.get(name):
                    self.parts.append(attrs[name])
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self.parts.append(attrs["value"])
        if tag not in self.VOID:
            self.stack.append((tag, tag in self.SKIP or bool(other_lang)))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not self._hidden() and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


class _Form(HTMLParser):
    """The fields a browser would submit from the first POST form on a page, unchanged."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self.in_form = self.done = False
        self.textarea: str | None = None
        self.select: str | None = None
        self.first_option: tuple[str, str] | None = None
        self.selected = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.done:
            return
        if tag == "form" and (a.get("method") or "").lower() == "post" and not a.get("action"):
            self.in_form = True
        if not self.in_form:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                # A browser drops line feeds from a one-line box's value.
                self.fields.append((a["name"], (a.get("value") or "").replace("\n", "").replace("\r", "")))
        elif tag == "textarea":
            self.textarea = a.get("name")
            self.fields.append((self.textarea, ""))
        elif tag == "select":
            self.select, self.first_option, self.selected = a.get("name"), None, False
        elif tag == "option" and self.select:
            value = a.get("value", "")
            self.first_option = self.first_option or (self.select, value)
            if "selected" in a:
                self.fields.append((self.select, value))
                self.selected = True

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form, self.done = False, True
        elif tag == "textarea":
            self.textarea = None
        elif tag == "select" and self.select:
            if not self.selected and self.first_option:
                self.fields.append(self.first_option)
            self.select = None

    def handle_data(self, data):
        if self.textarea:
            name, text = self.fields[-1]
            self.fields[-1] = (name, text + data)


def unchanged_form(html: str) -> list[tuple[str, str]]:
    """What submitting the page's own form right away sends (textareas lose a leading line feed
    as browsers do)."""
    parser = _Form()
    parser.feed(html)
    return [(name, value.removeprefix("\r").removeprefix("\n")) for name, value in parser.fields]
