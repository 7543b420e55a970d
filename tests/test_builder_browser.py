"""Issue 14, done when: a questionnaire built in the browser (no YAML) is published, routed to
fault tickets, answered by web, SMS simulator and voice simulator, and its responses appear
in the report."""
from datetime import timedelta

from sqlalchemy import select

from channels.models import Message
from core.db import db
from reports.figures import compute_report
from surveys.models import Invitation, Response
from surveys.services import latest_version
from tests.conftest import login, sent_invitation
from tests.test_browser import ARGS, CHROMIUM


def _fill_question(page, row: int, key: str, qtype: str, zh: str, en: str, measure: str, show_if: str = ""):
    page.fill(f"input[name=questions-{row}-key]", key)
    page.select_option(f"select[name=questions-{row}-type]", qtype)
    page.select_option(f"select[name=questions-{row}-dimension]", measure)
    page.fill(f"input[name=questions-{row}-text_zh]", zh)
    page.fill(f"input[name=questions-{row}-text_en]", en)
    if show_if:
        page.click(f"#question-{row} summary")
        page.fill(f"input[name=questions-{row}-show_if]", show_if)


def _build_in_the_browser(page, base: str) -> None:
    page.goto(f"{base}/questionnaires/build")
    page.fill("input[name=key]", "fault-check")
    page.fill("input[name=title_zh]", "故障修复回访")
    page.fill("input[name=title_en]", "Fault repair survey")
    _fill_question(page, 0, "repair_score", "rating", "您对这次维修满意吗?", "How satisfied are you with the repair?",
                   "overall")
    page.check("input[name=questions-0-required]")
    page.click("input[name=add]")
    _fill_question(page, 1, "working", "yesno", "现在一切正常吗?", "Is everything working now?", "resolved")
    page.click("input[name=add]")
    _fill_question(page, 2, "ring_me", "yesno", "需要我们回电吗?", "Shall we ring you?", "callback",
                   show_if="working == no")
    page.click("input[name=preview]")
    voice = page.locator(".preview-voice").inner_text()  # the staff pages are in Chinese
    assert "仅在此条件下提问:working == no\n需要我们回电吗? 是请按 1,否请按 2。" in voice
    assert page.locator(".phone").bounding_box()["width"] <= 390
    page.screenshot(path="/tmp/hf-builder-preview.png", full_page=True)
    page.click("input[name=publish]")
    page.wait_for_url("**/questionnaires/fault-check/1")
    page.goto(f"{base}/admin/questionnaires/routes")
    page.select_option("select[name=ticket_kind]", "fault")
    page.select_option("select[name=questionnaire]", "fault-check")
    page.click("form.card button.primary")
    page.wait_for_selector("text=分配规则已保存。")


def _simulate(page, base: str, invitation_id: int, replies: list[str]) -> None:
    message_id = db.session.scalar(select(Message.id).where(Message.invitation_id == invitation_id))
    db.session.commit()
    page.goto(f"{base}/outbox/{message_id}/simulator")
    for text in replies:
        page.fill("input[name=text]", text)
        with page.expect_navigation():  # the reply is stored before the next one is typed
            page.click("form.filters button.primary")


def test_a_questionnaire_built_in_the_browser_is_answered_on_three_channels_and_reported(
        app, ctx, client, live_server):
    from playwright.sync_api import sync_playwright

    login(client, "admin")  # whatever the login takes, then the browser carries the session
    cookie = client.get_cookie("session")
    db.session.commit()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.add_cookies([{"name": "session", "value": cookie.value, "url": live_server}])
        page = context.new_page()
        _build_in_the_browser(page, live_server)
        db.session.expire_all()
        assert latest_version("fault-check").number == 1

        invitations = {}
        for channel, phone in (("email", "+447700900801"), ("sms", "+447700900802"), ("voice", "+447700900803")):
            invitation = sent_invitation(channel=channel, locale="en", kind="fault", id=f"C-{channel}",
                                         phone=phone, email=f"{channel}@example.com")
            invitations[channel] = (invitation.id, invitation.token)
        assert {db.session.get(Invitation, i).version.questionnaire.key for i, _ in invitations.values()} == {"fault-check"}
        db.session.commit()

        phone_page = context.new_page()
        phone_page.set_viewport_size({"width": 390, "height": 844})
        phone_page.goto(f"{live_server}/s/{invitations['email'][1]}")
        phone_page.check("input[name=repair_score][value='5']")
        phone_page.check("input[name=working][value='no']")
        phone_page.locator("#q-ring_me").wait_for(state="visible")  # same page, revealed
        phone_page.check("input[name=ring_me][value='yes']")
        phone_page.click("button[type=submit]")
        phone_page.wait_for_url("**/thanks")
        _simulate(page, live_server, invitations["sms"][0], ["2", "yes"])  # solved: no callback offered
        _simulate(page, live_server, invitations["voice"][0], ["4", "2", "1"])
        browser.close()

    db.session.expire_all()
    stored = {r.channel: r for r in db.session.scalars(select(Response))}
    assert stored["email"].answer_map() == {"repair_score": 5, "working": "no", "ring_me": "yes"}
    assert stored["sms"].answer_map() == {"repair_score": 2, "working": "yes"}
    assert stored["voice"].answer_map() == {"repair_score": 4, "working": "no", "ring_me": "yes"}
    assert all(r.completed_at is not None and r.version.questionnaire.key == "fault-check" for r in stored.values())
    day = stored["voice"].completed_at.date()
    report = compute_report(day - timedelta(days=1), day + timedelta(days=1), filters={"ticket_kind": "fault"})
    assert report["responses"] == 3
    assert report["csat"]["value"] == 66.7  # overall 5 and 4 of 5, 2, 4
