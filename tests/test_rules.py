"""Invitation rules (delay, allowed hours, cap, channel) and the working-day calendar."""
from datetime import datetime, timedelta

from sqlalchemy import select

from callbacks.deadlines import deadline
from core.db import db
from core.settings import DEFAULTS, get_rules, save_rules
from core.timeutil import add_working_days
from surveys.models import Invitation
from tests.conftest import make_ticket
from tickets.models import Customer

# All times below are UTC; the customer is in Asia/Shanghai (UTC+8).


def beijing(y, m, d, h, mi=0):
    return datetime(y, m, d, h, mi) - timedelta(hours=8)


def test_invitation_goes_out_two_hours_after_handling(ctx):
    result = make_ticket(handled_at=beijing(2026, 11, 20, 10, 30))
    assert result.invitation.send_at == beijing(2026, 11, 20, 12, 30)


def test_quiet_hours_move_the_invitation_to_08_00_local(ctx):
    late = make_ticket("T-late", handled_at=beijing(2026, 11, 20, 19, 30)).invitation  # +2h = 21:30
    assert late.send_at == beijing(2026, 11, 21, 8, 0)
    early = make_ticket("T-early", handled_at=beijing(2026, 11, 22, 3, 0),
                        customer={"id": "C-2", "phone": "+8613800000002"}).invitation  # 05:00
    assert early.send_at == beijing(2026, 11, 22, 8, 0)


def test_quiet_hours_use_the_customers_own_time_zone(ctx):
    make_ticket("T-0", handled_at=beijing(2026, 11, 1, 10), customer={"id": "C-LDN", "phone": "+447700900001"})
    customer = db.session.scalar(select(Customer).where(Customer.external_id == "C-LDN"))
    customer.timezone = "Europe/London"
    db.session.commit()
    # 20:00 UTC + 2h = 22:00 London (GMT in November): too late, moves to 08:00 London the next day.
    invitation = make_ticket("T-1", handled_at=datetime(2026, 11, 10, 20, 0),
                             customer={"id": "C-LDN", "phone": "+447700900001"}).invitation
    assert invitation.send_at == datetime(2026, 11, 11, 8, 0)


def test_at_most_one_invitation_per_customer_per_30_days(ctx):
    first = make_ticket("T-1", handled_at=beijing(2026, 10, 1, 10)).invitation
    second = make_ticket("T-2", handled_at=beijing(2026, 10, 20, 10)).invitation
    third = make_ticket("T-3", handled_at=beijing(2026, 11, 2, 10)).invitation
    assert first.state == "scheduled"
    assert second.state == "suppressed" and second.suppressed_reason == "cap"
    assert third.state == "scheduled"  # 32 days after the first


def test_channel_preference_then_configured_order(ctx):
    email_only = make_ticket("T-1", customer={"id": "C-1", "email": "a@example.com"}).invitation
    assert email_only.channel == "email"
    customer = db.session.scalar(select(Customer).where(Customer.external_id == "C-1"))
    customer.phone, customer.preferred_channel = "+8613800000009", "voice"
    db.session.commit()
    save_rules({"cap_days": 0})
    db.session.commit()
    assert make_ticket("T-2", customer={"id": "C-1"}).invitation.channel == "voice"
    nobody = make_ticket("T-3", customer={"id": "C-3"}).invitation
    assert nobody.state == "suppressed" and nobody.suppressed_reason == "no_contact"


def test_kinds_without_survey_get_none(ctx):
    save_rules({"survey_kinds": ["business"]})
    db.session.commit()
    assert make_ticket("T-1", kind="inquiry").invitation is None
    assert db.session.scalar(select(Invitation)) is None


def test_opted_out_customer_is_not_invited(ctx):
    make_ticket("T-0", handled_at=beijing(2026, 1, 1, 10))
    customer = db.session.scalar(select(Customer))
    customer.opted_out_at = datetime(2026, 2, 1)
    db.session.commit()
    invitation = make_ticket("T-1").invitation
    assert invitation.state == "suppressed" and invitation.suppressed_reason == "opted_out"


def test_working_days_skip_weekends_and_holidays():
    friday_10 = beijing(2026, 11, 27, 10)
    assert add_working_days(friday_10, 3, "Asia/Shanghai", []) == beijing(2026, 12, 2, 10)  # Wed
    # With Monday 30 Nov a holiday: Tue, Wed, Thu.
    assert add_working_days(friday_10, 3, "Asia/Shanghai", ["2026-11-30"]) == beijing(2026, 12, 3, 10)


def test_complaint_feedback_deadline_uses_working_days_and_never_exceeds_30(ctx):
    rules = dict(get_rules(), holidays=["2026-11-30"])
    friday = beijing(2026, 11, 27, 10)
    assert deadline("complaint_feedback", friday, rules, "Asia/Shanghai") == beijing(2026, 12, 3, 10)
    rules["deadline_complaint_feedback_working_days"] = 45
    capped = deadline("complaint_feedback", friday, rules, "Asia/Shanghai")
    assert capped == add_working_days(friday, 30, "Asia/Shanghai", rules["holidays"])


def test_rules_defaults_match_the_guide():
    assert DEFAULTS["invitation_delay_hours"] == 2 and DEFAULTS["cap_days"] == 30
    assert (DEFAULTS["quiet_hours_start"], DEFAULTS["quiet_hours_end"]) == (8, 21)
    assert DEFAULTS["deadline_post_handling_hours"] == 48
    assert DEFAULTS["deadline_complaint_accept_hours"] == 24
    assert DEFAULTS["deadline_complaint_investigate_hours"] == 72
    assert DEFAULTS["deadline_complaint_feedback_working_days"] == 3
    assert DEFAULTS["deadline_detractor_hours"] == 24


def test_the_batch_calendar_answers_what_the_functions_answer():
    """core.timeutil.LocalCalendar (batch intake's cached quiet hours and working days) against
    the plain functions, every 7 minutes across daylight-saving changes (New York, Lord Howe's
    half hour), a quarter-hour zone (Kathmandu), Shanghai's local mean time of 1900, holidays,
    and quiet hours that end before they start."""
    from core.timeutil import LocalCalendar, within_allowed_hours

    holidays = ["2026-11-02", "2026-11-03", "2026-04-06"]
    calendar = LocalCalendar(holidays)
    starts = [datetime(2026, 10, 31), datetime(2026, 3, 7), datetime(2026, 4, 3), datetime(1900, 1, 1)]
    zones = ["America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Asia/Shanghai", None]
    for start in starts:
        for minutes in range(0, 4 * 24 * 60, 7):
            moment = start + timedelta(minutes=minutes, seconds=minutes % 60, microseconds=minutes)
            for zone in zones:
                for first, last in ((8, 21), (9, 20), (22, 6)):
                    assert (calendar.within_allowed_hours(moment, zone, first, last)
                            == within_allowed_hours(moment, zone, first, last)), (moment, zone, first, last)
                for days in (0, 1, 3):
                    assert (calendar.add_working_days(moment, days, zone, holidays)
                            == add_working_days(moment, days, zone, holidays)), (moment, zone, days)
    other = ["2026-11-04"]  # another holiday list than the calendar's: answered without the cache
    assert calendar.add_working_days(starts[0], 3, None, other) == add_working_days(starts[0], 3, None, other)


def test_bulk_tokens_look_like_single_ones():
    import re

    from surveys.services import new_token, new_tokens
    tokens = new_tokens(1000)
    assert len(set(tokens)) == 1000 and new_tokens(0) == []
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", t) for t in [*tokens, new_token()])
