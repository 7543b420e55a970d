"""Standards (issue 11): every page a person can open passes axe-core's WCAG 2.1 A and AA rules
in a real Chromium, and the Nu HTML checker finds no error in its HTML.

The pages are those tests/screens.py walks on the demo data (plus a complaint case per state,
each action, a webhook endpoint, each questionnaire version): each staff page opened by the
least-privileged role allowed to see it, the pages on the way in (login, a wrong password, the
second factor, its enrolment and recovery codes), and at phone width the customer's survey in
every state (each page, an unanswered page's errors, thanks, expired, unknown, unsubscribe) in
both languages and the complaint re-check page; and staff forms sent empty, with their errors. The checkers come from npm
(package.json; `make test` installs them): axe is injected into each page, and the HTML of all
pages is saved and checked by one run of vnu.jar."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from core.accounts import create_user
from core.db import db
from demo import DEMO_PASSWORD
from tests.conftest import sent_invitation
from tests.screens import ROLES, customer_pages, seed_small_demo, staff_pages

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
pytestmark = pytest.mark.markup  # the same HTML on either database: run in one pass (Makefile)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BUSY_MACHINE_MS = 120_000
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# axe's violations as plain data: rule, impact, what it means, and the offending elements.
RUN_AXE = """async tags => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      targets: v.nodes.map(n => n.target.join(' '))}));
}"""
# Staff forms sent with every text field emptied (the browser's own checks off), so the page
# comes back with its validation errors: error markup is checked too, not only clean forms.
FORMS_WITH_ERRORS = {"agent": ["/interviews/new"], "manager": ["/actions/new"],
                     "admin": ["/admin/rules", "/admin/users", "/admin/api-keys", "/admin/webhooks"]}
TEXT_FIELDS = "input[type=text], input[type=email], input[type=url], input[type=number], input[type=date], textarea"
EMPTY_THE_FORM = """fields => {
  const form = [...document.querySelectorAll('main form')]
    .find(f => f.method === 'post' && f.querySelector(fields) && f.querySelector('[type=submit], button:not([type=button])'));
  if (!form) return false;
  form.noValidate = true;
  form.querySelectorAll(fields).forEach(field => { field.value = ''; });
  form.setAttribute('data-emptied', '');
  return true;
}"""


class Checker:
    """Opens pages in one browser context, runs axe on each and keeps its HTML for vnu."""

    def __init__(self, context, base: str, html_dir: Path, names: dict[str, str], violations: list[str]):
        self.page = context.new_page()
        self.base, self.html_dir = base, html_dir
        self.names = names  # saved file name -> "who url", shared by every context of the run
        self.violations = violations

    def open(self, who: str, url: str) -> None:
        from playwright.sync_api import Error

        try:
            response = self.page.goto(self.base + url)
        except Error as error:  # a download (CSV, PDF) is not a page
            if "Download is starting" in str(error):
                return
            raise
        assert response.status < 500, (who, url, response.status)
        if response.headers.get("content-type", "").startswith("text/html"):
            self.check(who, url, response.text())

    def submit(self, who: str, selector: str) -> None:
        """Clicks a form's button and checks the page the browser lands on."""
        with self.page.expect_navigation() as navigation:
            self.page.click(selector)
        self.check(who, self.page.url.removeprefix(self.base), navigation.value.text())

    def submit_with_errors(self, who: str, url: str) -> None:
        """Opens `url`, empties its form and sends it: the page with the errors is checked."""
        self.open(who, url)
        assert self.page.evaluate(EMPTY_THE_FORM, TEXT_FIELDS), f"{url}: no form with text fields"
        self.submit(f"{who} errors", "form[data-emptied] :is([type=submit], button:not([type=button]))")
        assert self.page.locator(".error").count(), f"{url}: an emptied form showed no error"

    def check(self, who: str, url: str, html: str) -> None:
        name = f"{len(self.names):04d}.html"
        (self.html_dir / name).write_text(html, encoding="utf-8")
        self.names[name] = f"{who} {url}"
        self.page.add_script_tag(path=str(AXE))
        for v in self.page.evaluate(RUN_AXE, WCAG_21_AA):
            targets = ", ".join(v["targets"][:4]) + (f" (+{len(v['targets']) - 4})" if len(v["targets"]) > 4 else "")
            self.violations.append(f"{who} {url}: {v['id']} ({v['impact']}) {v['help']}: {targets}")


def html_errors(html_dir: Path, names: dict[str, str]) -> list[str]:
    """One run of the Nu HTML checker over the saved pages: its errors, named by page and line."""
    run = subprocess.run(["java", "-jar", str(VNU), "--errors-only", "--format", "json", str(html_dir)],
                         capture_output=True, text=True, timeout=600)
    messages = json.loads(run.stderr or run.stdout)["messages"]
    return [f"{names.get(m.get('url', '').rpartition('/')[2], m.get('url'))}:{m.get('lastLine', '?')}: "
            f"{m['message']} [{m.get('extract', '').strip()[:80]}]" for m in messages]


def more_samples() -> tuple[dict[str, list], list[str]]:
    """What the small demo lacks, or screens.sample_ids leaves at 1: a complaint case in each
    state, each improvement action, a webhook endpoint, each questionnaire's first version; and
    the customer's complaint re-check page, unanswered and answered."""
    from sqlalchemy import func, select

    from complaints.models import ComplaintCase
    from integrations.models import WebhookEndpoint
    from reports.models import ImprovementAction
    from surveys.models import Questionnaire

    endpoint = WebhookEndpoint(url="https://crm.example.com/hooks", description="CRM",
                               event_types=["response.completed"])
    db.session.add(endpoint)
    db.session.flush()
    ids = {"case_id": sorted(db.session.scalars(select(func.min(ComplaintCase.id)).group_by(ComplaintCase.state))),
           "action_id": sorted(db.session.scalars(select(ImprovementAction.id))),
           "endpoint_id": [endpoint.id],
           "key": sorted(db.session.scalars(select(Questionnaire.key))), "number": [1]}
    rechecks = [db.session.scalar(select(ComplaintCase.recheck_token).where(
        ComplaintCase.recheck_token.is_not(None), answered).limit(1))
        for answered in (ComplaintCase.recheck_answered_at.is_(None), ComplaintCase.recheck_answered_at.is_not(None))]
    db.session.commit()
    return ids, [f"/c/{token}" for token in rechecks if token]


def browser_login(checker: Checker, role: str, email: str, password: str) -> None:
    """Logs in through the pages a person uses, checking each: the login form, the second factor
    (the authenticator's code from pyotp), or its enrolment and the recovery codes it shows."""
    from sqlalchemy import select

    from core.accounts import User
    from tests.conftest import fresh_totp_code

    page = checker.page
    checker.open("anonymous", "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    checker.submit(role, "main form button, main form [type=submit]")
    if page.url.endswith(("/login/enrol", "/login/code")):
        enrolling = page.url.endswith("/enrol")
        secret = page.inner_text("#totp-secret") if enrolling else \
            db.session.scalar(select(User.totp_secret).where(User.email == email))
        page.fill("input[name=code]", fresh_totp_code(email, secret))
        checker.submit(role, "main form button, main form [type=submit]")
        if enrolling:  # the recovery codes, shown once, then on into the app
            checker.submit(role, "main a.button")
    assert "/login" not in page.url, page.url


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert AXE.exists() and VNU.exists(), "the page checkers are missing: run `npm ci` (make test does)"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def new_checker(browser, base: str, html_dir: Path, viewport: dict, names: dict, violations: list) -> Checker:
    # The app's Content-Security-Policy forbids inline scripts; the injected axe is one.
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    context.set_default_timeout(BUSY_MACHINE_MS)
    return Checker(context, base, html_dir, names, violations)


def test_the_checkers_find_problems(browser, tmp_path, live_server):
    """A field without a label and a duplicate id: axe and vnu must both report them."""
    page_dir = tmp_path / "pages"
    page_dir.mkdir()
    bad = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>x</title></head><body>'
           '<main><p id="a">one</p><p id="a">two</p><input type="text" name="q"></main></body></html>')
    checker = new_checker(browser, live_server, page_dir, PHONE, {}, [])
    checker.page.set_content(bad)
    checker.check("test", "/bad", bad)
    assert any(": label (critical)" in v for v in checker.violations), checker.violations
    errors = html_errors(page_dir, checker.names)
    assert any("Duplicate ID" in e and e.startswith("test /bad:1") for e in errors), errors


def test_every_page_meets_wcag_21_aa_and_is_valid_html(ctx, app, live_server, browser, tmp_path):
    ids = seed_small_demo()
    more_ids, rechecks = more_samples()  # commits: the test holds no lock while the server answers
    ids.update(more_ids)
    page_dir = tmp_path / "pages"
    page_dir.mkdir()
    names: dict[str, str] = {}
    violations: list[str] = []
    customer = new_checker(browser, live_server, page_dir, PHONE, names, violations)
    sent_invitation(locale="en", id="C-A11Y", phone="+447700900557")  # the small demo has none in English
    for locale in ("zh-CN", "en"):
        urls = list(customer_pages(locale))
        db.session.commit()  # the server writes as the customer opens the survey
        customer.open(f"customer {locale}", urls[0])
        customer.submit(f"customer {locale} unanswered", "main button[type=submit]")  # errors shown
        for url in urls[1:]:
            customer.open(f"customer {locale}", url)
    for url in rechecks:
        customer.open("customer", url)
    seen: set[str] = set()
    for role in ROLES:  # each page as the least-privileged role that may open it
        staff = new_checker(browser, live_server, page_dir, DESKTOP, names, violations)
        browser_login(staff, role, f"{role}@example.com", DEMO_PASSWORD)
        for _endpoint, url in staff_pages(app, ids, role):
            if url not in seen:
                seen.add(url)
                staff.open(role, url)
        staff.open(role, "/no-such-page")
        for url in FORMS_WITH_ERRORS.get(role, []):
            staff.submit_with_errors(role, url)
    create_user("new@example.com", "New Manager", "manager", DEMO_PASSWORD)  # enrols at first login
    db.session.commit()
    newcomer = new_checker(browser, live_server, page_dir, DESKTOP, names, violations)
    newcomer.open("anonymous", "/login")
    newcomer.page.fill("input[name=email]", "new@example.com")
    newcomer.page.fill("input[name=password]", "not-the-password")
    newcomer.submit("anonymous wrong password", "main form button, main form [type=submit]")
    browser_login(newcomer, "new manager", "new@example.com", DEMO_PASSWORD)
    errors = html_errors(page_dir, names)
    report = [f"{len(names)} pages checked: {len(violations)} axe violations, {len(errors)} HTML errors",
              *violations, *errors]
    assert not violations and not errors, "\n".join(report)
