"""Layout a person sees (issue 11), in a real Chromium at phone width on the demo data: no page
scrolls sideways (a wide table scrolls in its own box), no Chinese label in a table breaks one
character a line, and each checkbox of a list sits beside its label."""
import shutil

import pytest

from core.db import db
from tests.screens import login_demo, seed_small_demo

pytestmark = pytest.mark.markup  # the same HTML on either database: run in one pass (Makefile)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
BUSY_MACHINE_MS = 120_000
# The pages with the widest tables and the checkbox lists.
PAGES = ["/dashboard", "/callbacks", "/complaints", "/scorecards", "/outbox", "/admin/audit",
         "/admin/users", "/admin/rules", "/admin/api-keys"]
# Table cells holding one short Chinese word (北京, 办结回访, 已超时) whose text takes more than one line.
BROKEN_LABELS = """() => [...document.querySelectorAll('th, td, th *, td *')].flatMap(cell =>
  [...cell.childNodes].filter(n => n.nodeType === Node.TEXT_NODE && /^[\\u4e00-\\u9fff]{2,8}$/.test(n.data.trim()))
    .filter(n => { const r = document.createRange(); r.selectNodeContents(n);
                   return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1; })
    .map(n => n.data.trim()))"""
# Checkboxes of a list whose label is not on the same line.
LONELY_BOXES = """() => [...document.querySelectorAll('.field li')].filter(li => {
  const box = li.querySelector('input').getBoundingClientRect(), text = li.querySelector('label').getBoundingClientRect();
  return box.bottom <= text.top || text.bottom <= box.top; }).map(li => li.textContent.trim())"""


# Buttons, deadlines and states an agent needs that sit past the screen's right edge (inside a
# table's scroll box they don't widen the page, so the width check alone misses them).
OFF_SCREEN = """() => [...document.querySelectorAll('main button, main td')]
  .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
  .map(el => el.textContent.trim().slice(0, 20))"""
# Pages people work from on a phone: every cell and button on screen, not in a sideways scroll.
WORKED_ON_PHONES = ["/callbacks", "/complaints"]


def test_staff_pages_fit_a_phone_and_keep_labels_whole(ctx, client, live_server):
    from playwright.sync_api import sync_playwright

    seed_small_demo()
    db.session.commit()
    login_demo(client, "admin")  # the browser borrows this session: no second login, no TOTP step
    cookie = client.get_cookie("session")
    db.session.commit()  # the test holds no lock while the server answers the browser
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport=PHONE, locale="zh-CN")
        context.add_cookies([{"name": "session", "value": cookie.value, "url": live_server}])
        context.set_default_timeout(BUSY_MACHINE_MS)
        page = context.new_page()
        for url in PAGES:
            response = page.goto(live_server + url)
            assert response.status == 200 and page.url == live_server + url, (url, response.status, page.url)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                problems.append(f"{url}: the page is {width} px wide on a {PHONE['width']} px screen")
            problems += [f"{url}: “{word}” breaks across lines" for word in page.evaluate(BROKEN_LABELS)]
            problems += [f"{url}: checkbox “{text}” is not beside its label" for text in page.evaluate(LONELY_BOXES)]
            if url in WORKED_ON_PHONES:
                problems += [f"{url}: “{text}” is off the screen" for text in page.evaluate(OFF_SCREEN)]
        browser.close()
    assert not problems, "\n".join(problems)
