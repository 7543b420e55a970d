"""Every internal code a person may read, labelled in both languages, in one table.

Templates write `{{ label('task_kind', task.kind) }}`; forms build their choices with
`choices('channel', CHANNELS)`. A code without a label shows as itself, and the zh-CN page
crawler (tests/test_screens_zh.py) fails on it: add the label here."""
from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

LABELS: dict[str, dict[str, object]] = {
    "ticket_kind": {"inquiry": _l("Inquiry"), "business": _l("Service request"), "fault": _l("Fault"),
                    "complaint": _l("Complaint")},
    "task_kind": {"post_handling": _l("Post-handling callback"), "complaint_accept": _l("Complaint: accept"),
                  "complaint_investigate": _l("Complaint: investigate"),
                  "complaint_feedback": _l("Complaint: feed back result"),
                  "complaint_followup": _l("Complaint: second follow-up"),
                  "detractor": _l("Unhappy respondent follow-up")},
    "task_state": {"open": _l("Open"), "claimed": _l("Claimed"), "in_progress": _l("In progress"),
                   "waiting": _l("Waiting to call back"), "escalated": _l("Escalated"), "done": _l("Done"),
                   "unreachable": _l("Unreachable")},
    "task_event": {"created": _l("Created"), "claimed": _l("Claimed"), "released": _l("Released to the pool"),
                   "reopened": _l("Back on the list"), "escalated": _l("Escalated"), "done": _l("Closed"),
                   "unreachable": _l("Closed as unreachable"), "call_started": _l("Call placed via Twilio")},
    "outcome": {"reached": _l("Reached"), "no_answer": _l("No answer"), "busy": _l("Busy"),
                "wrong_number": _l("Wrong number"), "call_back_later": _l("Call back later")},
    "resolution": {"resolved": _l("Resolved"), "explained": _l("Explained / advised"),
                   "compensated": _l("Compensated"), "transferred": _l("Transferred to another team"),
                   "not_resolved": _l("Not resolved"), "customer_declined": _l("Customer declined")},
    "channel": {"web": _l("Web"), "sms": _l("SMS"), "voice": _l("Voice call"), "email": _l("E-mail"),
                "interview": _l("Interviewer")},
    "transport": {"outbox": _l("Outbox"), "twilio": "Twilio", "smtp": "SMTP"},
    "message_state": {"queued": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"),
                      "delivered": _l("Delivered"), "undelivered": _l("Undelivered"), "failed": _l("Failed"),
                      "received": _l("Received")},
    "purpose": {"invitation": _l("survey invitation"), "reminder": _l("reminder"), "reply": _l("reply"),
                "answer": _l("customer's answer"), "escalation": _l("escalation notice"),
                "report": _l("scheduled report"),
                "result": _l("complaint result"), "recheck": _l("complaint re-check"),
                "action_overdue": _l("overdue action reminder")},
    "invitation_state": {"scheduled": _l("Scheduled"), "sent": _l("Sent"), "started": _l("Started"),
                         "completed": _l("Completed"), "expired": _l("Expired"), "skipped": _l("Skipped"),
                         "failed": _l("Failed")},
    "role": {"admin": _l("administrator"), "agent": _l("callback agent"), "manager": _l("manager")},
    "report_kind": {"monthly": _l("Monthly"), "quarterly": _l("Quarterly"), "annual": _l("Annual"),
                    "adhoc": _l("On demand")},
    "period": {"week": _l("week"), "month": _l("month"), "quarter": _l("quarter")},
    "locale": {"zh-CN": "中文", "en": "English"},
    "dimension": {"attitude": _l("staff service attitude"), "efficiency": _l("handling efficiency"),
                  "stability": _l("network and system stability"), "after_sales": _l("after-sales service")},
    "audit_action": {"login": _l("signed in"), "logout": _l("signed out"),
                     "change_password": _l("changed the password"),
                     "enrol_second_factor": _l("set up two-step sign-in"),
                     "action_create": _l("created an improvement action"),
                     "action_state": _l("changed an improvement action's state"),
                     "login_failed": _l("failed sign-in"),
                     "complaint_file": _l("attached a file to a complaint"),
                     "complaint_file_download": _l("downloaded a complaint file"),
                     "complaint_stage": _l("completed a complaint stage"),
                     "complaint_extension": _l("extended a complaint deadline"),
                     "complaint_reopened": _l("reopened a complaint"),
                     "complaint_result": _l("sent a complaint's written result"),
                     "complaint_recheck": _l("recorded a complaint re-check"),
                     "complaint_content": _l("edited a complaint's content"),
                     "export_complaints": _l("exported the complaint ledger"),
                     "create_webhook": _l("added a webhook endpoint"),
                     "enable_webhook": _l("switched a webhook endpoint on or off"),
                     "redeliver_webhook": _l("redelivered a webhook event"),
                     "reset_second_factor": _l("reset someone's two-step sign-in"),
                     "export_customer": _l("exported a customer's data"),
                     "erase_customer": _l("erased a customer's data"),
                     "restore_backup": _l("restored a backup"),
                     "rotate_data_keys": _l("sealed the stored secrets under a new data key"), "change_rules": _l("changed the rules"),
                     "create_user": _l("created an account"), "activate_user": _l("activated an account"),
                     "deactivate_user": _l("deactivated an account"), "create_api_key": _l("created an API key"),
                     "revoke_api_key": _l("revoked an API key"),
                     "questionnaire_version": _l("saved a questionnaire version"),
                     "questionnaire_publish": _l("published a questionnaire"),
                     "questionnaire_route": _l("routed tickets to a questionnaire"),
                     "questionnaire_route_deleted": _l("removed a questionnaire route"),
                     "anonymise_responses": _l("anonymised old responses"), "retry_message": _l("retried a message"),
                     "view_phone": _l("viewed a customer's phone number"), "record_attempt": _l("recorded a call"),
                     "close_task": _l("closed a task"), "interview": _l("entered an interview"),
                     "export_responses": _l("exported responses"), "generate_report": _l("generated a report")},
}


def label(kind: str, code: object) -> str:
    """The reader's words for `code`; the code itself when nobody has labelled it yet."""
    if code is None or code == "":
        return "—"
    text = LABELS.get(kind, {}).get(str(code))
    return str(text) if text is not None else str(code)


def choices(kind: str, codes: Iterable[str] | None = None, blank: object = None) -> list[tuple[str, object]]:
    """SelectField choices showing labels; `blank` adds a first "any" option."""
    table = LABELS[kind]
    out = [("", blank)] if blank is not None else []
    return out + [(code, table.get(code, code)) for code in (codes if codes is not None else table)]


def label_list(kind: str, codes: Iterable[str]) -> str:
    return gettext(", ").join(label(kind, c) for c in codes)


def register(app) -> None:
    app.jinja_env.globals["label"] = label
    app.jinja_env.filters["labels"] = lambda codes, kind: Markup.escape(label_list(kind, codes))
