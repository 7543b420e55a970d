"""Issue 16: skip logic is honoured on every channel. Every combination of answers that
decides a show_if, in the default questionnaire and in one with same-page and cross-page
conditions, is answered on the web (without JavaScript), in the interviewer form, by SMS
and by voice keypad: each question whose condition holds is offered and stored, each one
whose condition fails is not."""
import pytest

from channels.services import deliver_due
from core.db import db
from surveys.services import definition_of, import_questionnaire, latest_version
from tests import skip_logic_drivers as drive
from tests.conftest import login

GENERATED = {
    "key": "skip-logic-check", "sms_mode": "conversation",
    "title": {"en": "Skip logic check"},
    "questions": [
        {"key": "overall", "type": "rating", "page": 1, "required": True, "text": {"en": "Overall score?"}},
        {"key": "reason", "type": "choice", "page": 1, "show_if": "overall <= 2", "text": {"en": "Main reason?"},
         "choices": [{"value": "price", "text": {"en": "Price"}}, {"value": "network", "text": {"en": "Network"}}]},
        {"key": "network_fixed", "type": "yesno", "page": 2, "show_if": "reason == network",
         "text": {"en": "Is the network fixed now?"}},
        {"key": "nps", "type": "scale", "page": 2, "text": {"en": "Recommend us?"}},
        {"key": "detractor_why", "type": "choice", "page": 2,
         "show_if": {"all": ["nps <= 6", "overall < 4"]}, "text": {"en": "What went wrong?"},
         "choices": [{"value": "slow", "text": {"en": "Slow"}}, {"value": "rude", "text": {"en": "Rude"}}]},
        {"key": "callback", "type": "yesno", "page": 3,
         "show_if": {"any": ["network_fixed == no", "nps <= 3"]}, "text": {"en": "Shall we call you?"}},
        {"key": "comment", "type": "text", "page": 3, "text": {"en": "Anything else?"}},
    ],
}



@pytest.fixture(params=["telecom-default", "skip-logic-check"])
def version(request, ctx):
    if request.param == "skip-logic-check":
        return import_questionnaire(GENERATED)[0]
    return latest_version(request.param)


def test_combinations_cover_both_sides_of_every_condition(ctx):
    definition = definition_of(latest_version("telecom-default"))
    combinations = drive.deciding_combinations(definition)
    assert {(c["overall"], c["resolved"]) for c in combinations} == {
        (o, r) for o in (3, 4) for r in ("yes", "no")}
    callback_offered = [drive.expected_offered(definition, c, "web") >= {"callback"} for c in combinations]
    assert True in callback_offered and False in callback_offered


@pytest.mark.parametrize("channel", ["web", "interview", "sms", "voice"])
def test_every_deciding_combination_is_honoured_on_each_channel(client, twilio, version, channel):
    definition = definition_of(version)
    if channel == "interview":
        from core.settings import save_rules
        save_rules({"questionnaire": definition.key})
        db.session.commit()
        agent = login(client, "agent")
    for n, answers in enumerate(drive.deciding_combinations(definition)):
        expected = drive.expected_offered(definition, answers, channel)
        if channel == "interview":
            offered = drive.answer_in_interview(client, definition, answers)
            stored = drive.stored_answers(interviewer_id=agent.id)
        else:
            invitation = drive.invite(version.id, channel, n)
            deliver_due()
            offered = getattr(drive, f"answer_{'on' if channel == 'web' else 'by'}_{channel}")(
                client, invitation, definition, answers)
            stored = drive.stored_answers(invitation_id=invitation.id)
        assert offered == expected, (answers, sorted(offered ^ expected))
        assert stored == {k: answers[k] for k in expected}, answers
