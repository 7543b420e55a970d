"""`seed-demo`: a living system for a new user, built through the real services (intake,
dispatch, answering, callbacks), so the demo data obeys every rule the product does."""
from __future__ import annotations

import heapq
import random
from datetime import timedelta

from sqlalchemy import func, select

from callbacks.models import CallbackTask
from callbacks.services import claim, close, record_attempt, reopen_waiting
from core.accounts import User, create_user
from core.db import db, utcnow
from core.settings import get_rules
from reports.stored_themes import refresh_themes
from surveys.dispatch import expire_invitations, send_due_invitations
from surveys.models import Invitation, Response
from surveys.services import (
    complete_response,
    ensure_default_questionnaires,
    response_for,
    save_answers,
)
from tickets.services import intake_ticket, upsert_customer, validate_ticket

DEMO_PASSWORD = "huifang-demo"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平"]
EN_NAMES = ["Alice Chen", "Bob Li", "Carol Wang", "David Zhang", "Emma Liu", "Frank Huang"]
REGIONS = {"北京": 0.3, "上海": 0.2, "广州": -0.1, "成都": 0.0, "武汉": -0.4}
AGENTS = {"A01": 0.4, "A02": 0.1, "A03": -0.5, "A04": 0.0, "A05": 0.2, "A06": -0.2}
CATEGORIES = {"inquiry": ["资费查询", "套餐咨询"], "business": ["套餐变更", "宽带新装", "携号转网"],
              "fault": ["宽带断网", "信号弱", "网速慢"], "complaint": ["计费争议", "服务态度", "故障未修复"]}
KIND_WEIGHTS = {"inquiry": 0.3, "business": 0.3, "fault": 0.25, "complaint": 0.15}
COMMENTS = ["客服态度很好,耐心解答", "办理速度太慢,等了很久", "网络经常断线,希望尽快修复",
            "话费扣费不明,账单看不懂", "维修师傅上门及时,售后不错", "信号不稳定,晚上网速很慢",
            "The agent was friendly and helpful", "It took far too long to get an answer",
            "My bill was wrong again", "Internet keeps dropping every evening", ""]


def _customer(rng: random.Random, i: int) -> dict:
    english = rng.random() < 0.15
    name = rng.choice(EN_NAMES) if english else rng.choice(SURNAMES) + rng.choice(GIVEN)
    with_email = rng.random() < 0.3
    return {"id": f"C{100000 + i}", "name": name, "phone": f"+86138{rng.randrange(10**7, 10**8)}",
            "email": f"customer{i}@example.com" if with_email else None,
            "locale": "en" if english else "zh-CN"}


def _answers(rng: random.Random, region: str, agent: str, kind: str) -> dict:
    mood = 3.7 + REGIONS[region] + AGENTS[agent] - (0.8 if kind == "complaint" else 0) + rng.gauss(0, 0.8)
    clip = lambda v: max(1, min(5, round(v)))  # noqa: E731
    dims = {"attitude": clip(mood + 0.3 + rng.gauss(0, 0.6)), "efficiency": clip(mood - 0.2 + rng.gauss(0, 0.7)),
            "stability": clip(mood - 0.4 + rng.gauss(0, 0.9)), "after_sales": clip(mood + rng.gauss(0, 0.8))}
    overall = clip(0.45 * dims["efficiency"] + 0.35 * dims["attitude"] + 0.2 * dims["stability"] + rng.gauss(0, 0.4))
    answers = {"overall": overall, **dims, "nps": max(0, min(10, round(overall * 2 + rng.gauss(0, 1.2)))),
               "resolved": "yes" if overall >= 3 or rng.random() < 0.3 else "no"}
    if overall <= 3 or answers["resolved"] == "no":
        answers["callback"] = "yes" if rng.random() < 0.4 else "no"
    comment = rng.choice(COMMENTS) if rng.random() < 0.35 else ""
    if comment:
        answers["comment"] = comment
    return answers


def _demo_users() -> dict[str, User]:
    users = {}
    for role, name in (("admin", "管理员 Admin"), ("agent", "回访专员 Agent"), ("manager", "经理 Manager")):
        email = f"{role}@example.com"
        users[role] = db.session.scalar(select(User).where(User.email == email)) or create_user(
            email, name, role, DEMO_PASSWORD)
    return users


def _second_factor_lines() -> list[str]:
    """Admin and manager log in with a second factor; the demo enrols them with a key printed
    here, so a person can add it to an authenticator app or compute codes on the command line."""
    from core.twofactor import demo_enrolment
    lines = []
    for role in ("admin", "manager"):
        user = db.session.scalar(select(User).where(User.email == f"{role}@example.com"))
        secret = demo_enrolment(user)
        lines.append(f"  {role}@ second factor: authenticator key {secret} "
                     f"(or: .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{secret}').now())\")")
    return lines


def _improvement_actions(users: dict[str, User], now) -> None:
    """Two suggestions turned into actions: one done three months ago (its effect is measured
    in the report) and one open and overdue (its owner gets an e-mail)."""
    from reports.actions import create_action, period_label, set_state

    three_months_ago = (now.replace(day=1) - timedelta(days=70)).date()
    done = create_action("缩短业务办理时长:减少转接,首问负责",
                         users["manager"].id, three_months_ago + timedelta(days=20), "dimension:efficiency",
                         period_label("month", three_months_ago), users["manager"].id,
                         "关键驱动因素:办理效率")
    set_state(done, "done", "流程已简化", now=now - timedelta(days=75))
    create_action("宽带故障 24 小时内上门", users["agent"].id,
                  (now - timedelta(days=3)).date(), "dimension:after_sales",
                  period_label("month", (now.replace(day=1) - timedelta(days=1)).date()), users["manager"].id)
    db.session.commit()


def seed(customers: int = 400, months: int = 6, seed_value: int = 7) -> list[str]:
    rng = random.Random(seed_value)
    ensure_default_questionnaires()
    users = _demo_users()
    now = utcnow()
    start = now - timedelta(days=30 * months)
    people = [_customer(rng, i) for i in range(customers)]
    for person in people:  # some prefer e-mail or a call: every channel shows up in the demo
        customer = upsert_customer(person)
        roll = rng.random()
        customer.preferred_channel = "email" if person["email"] and roll < 0.5 else "voice" if roll > 0.85 else None
    db.session.commit()
    tickets = 0
    for n in range(customers * 3):
        kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
        handled = start + timedelta(seconds=rng.randrange(int((now - start).total_seconds())))
        body = {"external_id": f"T{handled:%Y%m%d}-{n:05d}", "kind": kind,
                "handled_at": handled.isoformat() + "Z", "customer": rng.choice(people),
                "category": rng.choice(CATEGORIES[kind]), "region": rng.choice(list(REGIONS)),
                "agent": rng.choice(list(AGENTS)), "channel": rng.choice(["10000热线", "APP", "营业厅"])}
        clean, errors = validate_ticket(body)
        if not errors and intake_ticket(clean).created:
            tickets += 1
    sent = _send_and_answer(rng, start, now)
    _work_old_tasks(rng, users["agent"], now)
    _work_complaints(rng, users, people, now)
    _improvement_actions(users, now)
    expire_invitations(now)
    refresh_themes(now)  # the dashboard's discovered themes, as the scheduler would compute them
    pending = db.session.scalars(select(Invitation).where(Invitation.state.in_(("sent", "started")))
                                 .order_by(Invitation.sent_at.desc()).limit(5)).all()
    from flask import current_app
    base = current_app.config["PUBLIC_BASE_URL"]
    lines = [f"demo: {customers} customers, {tickets} tickets, {sent} invitations sent, "
             f"{db.session.scalar(select(func.count()).select_from(Response))} responses, "
             f"{db.session.scalar(select(func.count()).select_from(CallbackTask))} callback tasks",
             f"staff logins (password {DEMO_PASSWORD}): admin@example.com, agent@example.com, manager@example.com",
             *_second_factor_lines(),
             "survey links to try:"]
    lines += [f"  {base}/s/{inv.token}  ({inv.channel}, {inv.customer.locale})" for inv in pending]
    return lines


def _send_and_answer(rng: random.Random, start, now) -> int:
    """Replays the scheduler hour by hour over the demo period, answering ~45% of invitations
    sent more than two days ago (the recent ones stay open to try)."""
    total = 0
    answer_until = now - timedelta(days=2)
    tick = start
    while tick < now:
        tick = min(tick + timedelta(hours=1), now)
        sent = send_due_invitations(tick, limit=10_000)
        total += sent
        if not sent or tick > answer_until:
            continue
        for invitation in db.session.scalars(select(Invitation).where(Invitation.sent_at == tick)).all():
            if rng.random() > 0.45:
                continue
            ticket = invitation.ticket
            response = response_for(invitation)
            save_answers(response, _answers(rng, ticket.region, ticket.agent, ticket.kind))
            db.session.flush()
            complete_response(response, completed_at=tick + timedelta(hours=rng.uniform(0.1, 30)))
    return total


def _work_old_tasks(rng: random.Random, agent: User, now) -> None:
    """Callbacks whose deadline passed long ago were worked: mostly on time, some late."""
    old = db.session.scalars(select(CallbackTask).where(CallbackTask.due_at < now - timedelta(days=3),
                                                        CallbackTask.kind.not_like("complaint%"))).all()
    rules = get_rules()
    for task in old:
        when = task.due_at - timedelta(hours=rng.uniform(-4, 30))  # about one in eight late
        claim(task.id, agent.id, when)
        if rng.random() < 0.08:  # never reached: retried until unreachable
            for gap in range(int(rules["retry_max_attempts"])):
                attempt_at = when + timedelta(hours=3 * gap)
                if gap:
                    reopen_waiting(attempt_at)
                    claim(task.id, agent.id, attempt_at)
                record_attempt(task, agent.id, "no_answer", now=attempt_at, rules=rules)
            continue
        record_attempt(task, agent.id, "reached", "客户已接听", now=when, rules=rules)
        try:
            close(task, agent.id, rng.choice(["resolved", "explained", "compensated", "resolved"]),
                  rng.random() < 0.8, "演示数据", now=when + timedelta(hours=1))
        except ValueError:  # a complaint's feedback closes only once its case's written result is sent
            db.session.rollback()


RESULT_LETTER = {"reason": "系统规则配置错误", "measures": "已为客户更正并退还相关费用",
                 "plan": "修正配置并排查同类客户", "followup": "7 天后回访确认问题是否解决"}


def _work_complaints(rng: random.Random, users: dict[str, User], people: list[dict], now) -> None:
    """Complaint cases walked through the real loop as far as their age allows, so the ledger
    shows every stage: accepted by a (recorded) call, investigated, handled, the written
    result, the re-check a week later (mostly "solved", a few reopened into a second
    follow-up); some extensions approved by the manager, files attached to some."""
    from complaints.feedback import answer_recheck, run_rechecks
    from complaints.models import ComplaintCase

    fresh = {}  # recent complaints caught at each stage: external id -> the last stage done
    for i, (hours, until) in enumerate(((0.5, None), (8, "accepted"), (40, "investigated"),
                                        (110, "handled"), (150, "fed_back"))):
        handled = now - timedelta(hours=hours)
        fresh[f"T{handled:%Y%m%d}-C{i}"] = until
        clean, _ = validate_ticket({"external_id": f"T{handled:%Y%m%d}-C{i}", "kind": "complaint",
                                    "handled_at": handled.isoformat() + "Z", "customer": people[i],
                                    "category": CATEGORIES["complaint"][i % 3], "region": list(REGIONS)[i % 5],
                                    "agent": "A01", "channel": "10000热线"})
        intake_ticket(clean)
    results = [case for case in db.session.scalars(select(ComplaintCase).order_by(ComplaintCase.received_at)).all()
               if _walk_case(rng, users, case, now, fresh.get(case.ticket.external_id, "fed_back"))]
    # Re-checks in time order (a second round's re-check joins the queue at its own time).
    queue = [(c.recheck_due_at, c.id, c) for c in results if c.recheck_due_at <= now]
    last = max(queue)[1] if queue else None  # the most recent is left reopened, its follow-up open
    heapq.heapify(queue)
    while queue:
        due, case_id, case = heapq.heappop(queue)
        run_rechecks(due)
        answered = min(due + timedelta(hours=rng.uniform(1, 40)), now)
        no = case_id == last or (case.round == 1 and rng.random() < 0.08)
        answer_recheck(case, "no" if no else "yes", now=answered)
        if case.state == "reopened" and case_id != last:
            _second_round(rng, users, case, answered)
            if case.recheck_due_at <= now:
                heapq.heappush(queue, (case.recheck_due_at, case.id, case))
    run_rechecks(now)
    db.session.commit()


def _walk_case(rng: random.Random, users: dict[str, User], case, now, until: str | None) -> bool:
    """One case up to where its age allows (and no further than stage `until`); True once its
    result was sent."""
    from complaints.evidence import store_file, store_recording
    from complaints.feedback import write_result
    from complaints.services import complete_stage, extend_feedback, feedback_limit

    agent, rules = users["agent"], get_rules()
    case.description = f"客户反映{case.category}问题,要求尽快处理并给予答复。"
    step = case.received_at + timedelta(hours=rng.uniform(0.5, 30 if until == "fed_back" else 4))  # some late
    if until is None or step > now - timedelta(hours=1):
        return False  # not yet accepted
    accept = case.current("accepted").task
    claim(accept.id, agent.id, step)
    record_attempt(accept, agent.id, "reached", "已受理投诉", now=step, rules=rules)
    close(accept, agent.id, "explained", True, "已受理", now=step + timedelta(minutes=20))
    if rng.random() < 0.7:  # the click-to-call recording Twilio reported (simulated: no provider)
        sid = f"RE{case.id:032d}"
        store_recording(accept, {"RecordingSid": sid, "CallSid": f"CA{case.id:032d}",
                                 "RecordingDuration": str(rng.randrange(40, 600)),
                                 "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/ACdemo/Recordings/{sid}"})
    if rng.random() < 0.25:
        store_file(case, "attachment", "核查记录.txt", "话单核查:确认多扣费用。".encode(), agent)
    step += timedelta(hours=rng.uniform(5, 60 if until == "fed_back" else 20))
    if until == "accepted" or step > now:
        return False
    investigate = case.current("investigated").task
    claim(investigate.id, agent.id, step)
    close(investigate, agent.id, "explained", True, "调查完成", now=step)
    step += timedelta(hours=rng.uniform(2, 30))
    if until == "investigated" or step > now:
        return False
    complete_stage(case, "handled", agent, at=step, note="已处理")
    result_at = step + timedelta(hours=rng.uniform(1, 60))
    if result_at > case.feedback_due_at and rng.random() < 0.3:  # the manager extends first
        new_due = min(result_at + timedelta(days=1), feedback_limit(case, rules))
        extend_feedback(case, users["manager"], new_due, "需调取话单核实", now=step)
    db.session.commit()
    if until == "handled" or result_at > now - timedelta(hours=1):
        return False  # handled, the result not yet written
    write_result(case, agent, {**RESULT_LETTER, "reason": f"{case.category}:{RESULT_LETTER['reason']}"},
                 now=result_at)
    return True


def _second_round(rng: random.Random, users: dict[str, User], case, reopened_at) -> None:
    """二次跟踪: the follow-up one tier up handles it again, a second result goes out."""
    from complaints.feedback import write_result

    followup = case.current("handled").task
    step = reopened_at + timedelta(hours=rng.uniform(2, 40))
    claim(followup.id, users["manager"].id, step)
    close(followup, users["manager"].id, "compensated", True, "二次处理:更换设备", now=step)
    write_result(case, users["manager"], {**RESULT_LETTER, "measures": "已上门更换设备并补偿话费"},
                 now=step + timedelta(hours=2))


def bulk_due_invitations(count: int, channel: str = "sms", prefix: str = "BULK") -> list[int]:
    """`count` customers, each with one invitation due now: for the scheduler's tests and
    benchmark. Bulk inserts (one statement per table), so 100,000 take seconds."""
    from sqlalchemy import insert

    from surveys.services import latest_version, new_token
    from tickets.models import Customer

    version = latest_version("telecom-default")
    now = utcnow()
    ids = db.session.scalars(insert(Customer).returning(Customer.id, sort_by_parameter_order=True), [
        {"external_id": f"{prefix}-{i}", "name": f"客户{i}", "phone": f"+8613{i:09d}", "locale": "zh-CN",
         "email": f"{prefix.lower()}{i}@example.com",
         "timezone": "Asia/Shanghai", "created_at": now} for i in range(count)]).all()
    invitation_ids = db.session.scalars(insert(Invitation).returning(Invitation.id, sort_by_parameter_order=True), [
        {"token": new_token(), "customer_id": cid, "version_id": version.id, "channel": channel,
         "state": "scheduled", "send_at": now - timedelta(minutes=1), "expires_at": now + timedelta(days=7),
         "skipped": [], "retries": 0, "created_at": now} for cid in ids]).all()
    db.session.commit()
    return invitation_ids
