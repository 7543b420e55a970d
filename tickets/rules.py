"""When and how a customer is invited: delay, allowed hours, cap, channel (SPEC "Flow" 2)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core.db import db
from core.timeutil import within_allowed_hours
from surveys.models import Invitation
from tickets.models import Customer


def reachable_channels(customer: Customer) -> list[str]:
    channels = []
    if customer.phone:
        channels += ["sms", "voice"]
    if customer.email:
        channels.append("email")
    return channels


def choose_channel(customer: Customer, rules: dict[str, Any]) -> str | None:
    """The customer's preference when it can reach them, then the configured order."""
    reachable = reachable_channels(customer)
    for channel in [customer.preferred_channel, *rules["channel_order"]]:
        if channel and channel in reachable:
            return channel
    return None


def invitation_send_time(handled_at: datetime, customer: Customer, rules: dict[str, Any],
                         within: Callable[[datetime, str | None, int, int], datetime] = within_allowed_hours,
                         ) -> datetime:
    """`within` moves a time into the allowed hours (batch intake passes a LocalCalendar's)."""
    earliest = handled_at + timedelta(hours=float(rules["invitation_delay_hours"]))
    return within(earliest, customer.timezone, int(rules["quiet_hours_start"]),
                                int(rules["quiet_hours_end"]))


def within_cap(customer_id: int, send_at: datetime, rules: dict[str, Any]) -> bool:
    """True when another invitation to this customer is within the cap window of `send_at`."""
    window = timedelta(days=int(rules["cap_days"]))
    nearby = db.session.scalar(
        select(func.count()).select_from(Invitation).where(
            Invitation.customer_id == customer_id,
            Invitation.state != "suppressed",
            Invitation.send_at > send_at - window,
            Invitation.send_at < send_at + window))
    return bool(nearby)


def plan_invitation(ticket_kind: str, handled_at: datetime, customer: Customer,
                    rules: dict[str, Any], capped: Callable[[int, datetime, dict[str, Any]], bool] = within_cap,
                    within: Callable[[datetime, str | None, int, int], datetime] = within_allowed_hours,
                    ) -> tuple[datetime, str | None, str | None]:
    """(send_at, channel, suppressed_reason): a reason means no invitation goes out. `capped`
    says whether another invitation is near (batch intake answers it from memory)."""
    send_at = invitation_send_time(handled_at, customer, rules, within)
    if ticket_kind not in rules["survey_kinds"]:
        return send_at, None, "kind"
    if customer.opted_out_at:
        return send_at, None, "opted_out"
    channel = choose_channel(customer, rules)
    if channel is None:
        return send_at, None, "no_contact"
    if capped(customer.id, send_at, rules):
        return send_at, channel, "cap"
    return send_at, channel, None
