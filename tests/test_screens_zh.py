"""Chinese first, everywhere a person reads. On the demo data, every page each role can open,
the customer's survey pages, every kind of message (SMS, e-mail, voice prompt) and the PDF
report are rendered in zh-CN; none may show an internal code (`post_handling`, `sent`) or
English a person would have to read. A new page is walked automatically (tests/screens.py)."""
from __future__ import annotations

import re
import subprocess

from core.db import db
from tests.screens import (
    ROLES,
    customer_pages,
    login_demo,
    logout,
    seed_small_demo,
    staff_pages,
    visible_text,
)

# Words that are the same in Chinese text: names, acronyms and formula letters.
ALLOWED = {"Huifang", "English", "CSAT", "NPS", "PDF", "CSV", "JSON", "Excel", "SMS", "API", "YAML",
           "Twilio", "SMTP", "E.164", "Wilson", "Pearson", "z", "p", "n", "s", "APP", "Asia/Shanghai",
           "CRM", "ID", "SLA", "r",
           "R", "t", "Johnson", "Welch", "TF-IDF", "VADER", "jieba",  # method notes name their methods
           "STOP", "START", "HELP", "Admin", "Agent", "Manager", "kB", "KB", "MB",
           "Webhook", "Webhooks", "Standard",  # the technical term, and the "Standard Webhooks" specification
           "en"}  # what an admin types after a report recipient's address for English
# The skip-logic builder edits conditions written in question keys ("overall <= 3"): code on purpose.
EDITORS = {"/questionnaires/build"}
# People's own words in the demo data (names, comments) are data, not interface.
DATA = re.compile(r"\S+@\S+|https?://\S+|/s/\S+|\S*\d\S*|\S+\.(?:txt|pdf|png|jpe?g|mp3|wav|csv)\b")
WORD = re.compile(r"[A-Za-z][A-Za-z_./'’-]*[A-Za-z]|[A-Za-z]")


def _demo_data_strings() -> list[str]:
    from demo import COMMENTS, EN_NAMES
    return sorted((c for c in COMMENTS + EN_NAMES if c), key=len, reverse=True)


def _questionnaire_keys() -> list[str]:
    from pathlib import Path
    return [p.stem for p in (Path(__file__).resolve().parent.parent / "surveys" / "definitions").glob("*.yaml")]


def foreign_words(texts: list[str]) -> list[str]:
    """English words or codes left in zh-CN text."""
    from core.accounts import API_SCOPES  # integrators configure these very strings

    found = []
    for text in texts:
        for scope in (*API_SCOPES, *_questionnaire_keys()):  # identifiers integrators and admins use
            text = text.replace(scope, " ")
        for data in _demo_data_strings():
            text = text.replace(data, " ")
        text = DATA.sub(" ", text)
        found += [w for w in WORD.findall(text) if w not in ALLOWED]
    return found


def check(where: str, texts: list[str], problems: list[str]) -> None:
    words = foreign_words(texts)
    if words:
        problems.append(f"{where}: {sorted(set(words))[:12]}")


def test_foreign_words_are_found():
    assert foreign_words(["任务 created post_handling", "状态 sent", "回访 Huifang 2026-01-01"]) == \
        ["created", "post_handling", "sent"]
    assert foreign_words(["Alice Chen 说:The agent was friendly and helpful", "NPS 40"]) == []


def test_every_screen_reads_chinese(ctx, app, client):
    ids = seed_small_demo()
    problems: list[str] = []
    seen = set()
    for role in ROLES:
        login_demo(client, role)
        for _endpoint, url in staff_pages(app, ids, role):
            if url in seen and role != "agent":
                continue
            seen.add(url)
            response = client.get(url)
            if not response.content_type.startswith("text/html") or url in EDITORS:
                continue
            assert response.status_code < 500, (url, response.status_code)
            check(f"{role} {url}", visible_text(response.get_data(as_text=True)), problems)
    logout(client)
    for url in customer_pages("zh-CN"):
        # The invitation's language wins over the browser's (an unknown token has none).
        response = client.get(url, headers={"Accept-Language": "en"} if "no-such" not in url else {})
        check(f"customer {url}", visible_text(response.get_data(as_text=True)), problems)
    assert not problems, "\n".join(problems)


def test_every_message_and_the_pdf_read_chinese(ctx, app):
    from channels.render import invitation_message
    from channels.webhooks import voice_prompt
    from core.i18n import in_locale
    from reports.figures import compute_report
    from reports.pdf import render_pdf
    from surveys.models import Invitation
    from surveys.services import definition_of
    from tests.conftest import sent_invitation

    problems: list[str] = []
    for channel in ("sms", "email", "voice"):
        invitation = sent_invitation(channel=channel, id=f"C-{channel}", email="wang@example.com")
        for reminder in (False, True):
            message = invitation_message(invitation, reminder=reminder)
            texts = [message["subject"], message["body"]]
            if "body_html" in message:
                texts += visible_text(message["body_html"])
            check(f"{channel} {'reminder' if reminder else 'invitation'}", texts, problems)
    with in_locale("zh-CN"):
        for question in definition_of(db.session.get(Invitation, invitation.id).version).questions:
            check(f"voice prompt {question.key}", [voice_prompt(question, "zh-CN")], problems)
    seed_small_demo()
    from datetime import date, timedelta
    pdf = render_pdf(compute_report(date.today() - timedelta(days=90), date.today(), "month", locale="zh-CN"))
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    check("PDF report", text.decode().splitlines(), problems)
    assert not problems, "\n".join(problems)


def test_every_code_has_a_label_in_both_languages(app):
    """The code lists of every area, and every audit action written anywhere, are labelled;
    and each label has its zh-CN text (the catalogue check) — not just the pages the demo shows."""
    from pathlib import Path

    from callbacks.models import ACTIVE_STATES, OUTCOMES, RESOLUTION_CATEGORIES, TASK_KINDS
    from channels.models import MESSAGE_STATES
    from core.accounts import ROLES as ACCOUNT_ROLES
    from core.i18n import in_locale
    from core.labels import LABELS, label
    from surveys.models import CHANNELS, DIMENSIONS
    from tickets.models import TICKET_KINDS

    lists = {"task_kind": TASK_KINDS, "task_state": (*ACTIVE_STATES, "done", "unreachable"), "outcome": OUTCOMES,
             "resolution": RESOLUTION_CATEGORIES, "message_state": MESSAGE_STATES, "role": ACCOUNT_ROLES,
             "channel": CHANNELS, "dimension": DIMENSIONS, "ticket_kind": TICKET_KINDS}
    root = Path(__file__).resolve().parent.parent
    written = set()
    for path in [*root.glob("*.py"), *root.glob("*/*.py")]:
        if path.parts[-2] not in (".venv", "tests", "bench", "migrations"):
            written |= set(re.findall(r'\baudit\("([a-z_]+)"', path.read_text(encoding="utf-8")))
    lists["audit_action"] = sorted(written)
    missing = [f"{kind}:{code}" for kind, codes in lists.items() for code in codes if code not in LABELS[kind]]
    assert not missing, missing
    with app.test_request_context(), in_locale("zh-CN"):
        english = [f"{kind}:{code}" for kind, codes in lists.items() for code in codes
                   if foreign_words([label(kind, code)])]
    assert not english, english
