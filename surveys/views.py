"""The web survey: /s/<token>, one page at a time, saved page by page so it can be resumed."""
from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from core.db import db
from surveys.forms import PageAnswers
from surveys.models import Invitation
from surveys.services import (
    SurveyUnavailable,
    complete_response,
    definition_of,
    invitation_for_answering,
    response_for,
    save_answers,
)

bp = Blueprint("surveys", __name__)


def _survey_locale(invitation) -> str:
    chosen = request.args.get("lang")
    if chosen in ("zh-CN", "en"):
        session[f"survey_lang:{invitation.token}"] = chosen
    return session.get(f"survey_lang:{invitation.token}") or invitation.customer.locale or "zh-CN"


def _known_invitation(token: str) -> Invitation | None:
    return db.session.scalar(select(Invitation).where(Invitation.token == token)) if len(token) <= 64 else None


def _page_questions(definition, answers, page):
    return [q for q in definition.visible(answers) if q.page == page]


def _next_page(definition, answers, after: int) -> int | None:
    for page in definition.pages:
        if page > after and _page_questions(definition, answers, page):
            return page
    return None


def _unavailable(exc: SurveyUnavailable, token: str):
    invitation = _known_invitation(token)
    if invitation is not None:  # the invitation's language, not the browser's
        g.locale = _survey_locale(invitation)
    return render_template("surveys/unavailable.html", reason=exc.reason), exc.status


@bp.route("/s/<token>", methods=["GET", "POST"])
def answer(token: str):
    try:
        invitation = invitation_for_answering(token, lock=request.method == "POST")
    except SurveyUnavailable as exc:
        return _unavailable(exc, token)
    g.locale = _survey_locale(invitation)
    definition = definition_of(invitation.version)
    response = invitation.response
    answers = response.answer_map() if response else {}
    progress = response.progress if response else 0

    frontier = _next_page(definition, answers, progress)  # the first page not yet submitted
    source = request.form if request.method == "POST" else request.args
    requested = source.get("page", type=int)
    if requested and _page_questions(definition, answers, requested) and (
            frontier is None or requested <= frontier):
        page = requested  # going back to an earlier page is fine; skipping ahead is not
    elif frontier is not None:
        page = frontier
    else:  # every page was submitted but the completion did not land: finish it now
        complete_response(response_for(invitation))
        return redirect(url_for(".thanks", token=token))
    questions = [q for q in definition.questions if q.page == page]
    if request.method == "GET" and not answers:
        return _pristine_page(invitation, definition, questions, page)
    sheet = PageAnswers(definition, questions, g.locale, answers,
                        formdata=request.form if request.method == "POST" else None)
    if request.method == "GET":
        return render_template("surveys/page.html", **_context(invitation, definition, sheet, page))
    if not sheet.submit(request.form.getlist("offered")):
        # 200 when only a follow-up was revealed: nothing is wrong, there is one more question
        status = 400 if not sheet.revealed else 200
        return render_template("surveys/page.html", **_context(invitation, definition, sheet, page)), status
    response = response_for(invitation)
    save_answers(response, sheet.answers())
    response.progress = max(response.progress or 0, page)
    answers = response.answer_map()
    next_page = _next_page(definition, answers, page)
    if next_page is None:
        db.session.flush()
        complete_response(response)  # commits; a concurrent double submit completes once
        return redirect(url_for(".thanks", token=token))
    db.session.commit()
    return redirect(url_for(".answer", token=token, page=next_page))


# A page nobody has answered yet is the same for every invitation of a questionnaire version
# (versions are immutable) but for the token and the CSRF value: render it once per worker.
_PRISTINE: dict[tuple[int, str, int, str], str] = {}
TOKEN_MARK, CSRF_MARK = "__HF_TOKEN__", "__HF_CSRF__"


def _pristine_page(invitation, definition, questions, page):
    # the checksum too: a test database reuses ids for other definitions
    key = (invitation.version_id, invitation.version.checksum, page, g.locale)
    if key not in _PRISTINE:
        sheet = PageAnswers(definition, questions, g.locale, {}, meta={"csrf": False})
        context = _context(invitation, definition, sheet, page)
        context["invitation"] = _Placeholder(token=TOKEN_MARK)
        _PRISTINE[key] = render_template("surveys/page.html", csrf_value=CSRF_MARK, **context)
    html = _PRISTINE[key].replace(TOKEN_MARK, invitation.token).replace(CSRF_MARK, generate_csrf())
    return html


class _Placeholder:
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def _context(invitation, definition, sheet: PageAnswers, page: int) -> dict:
    pages = [p for p in definition.pages]
    answers = invitation.response.answer_map() if getattr(invitation, "response", None) else {}
    # Numbers run on across pages: the questions shown on earlier pages come first.
    number_offset = sum(1 for q in definition.visible(answers) if q.page < page)
    return dict(number_offset=number_offset, invitation=invitation, definition=definition, sheet=sheet,
                form=sheet.form, questions=sheet.questions,
                page=page, page_number=pages.index(page) + 1, page_count=len(pages),
                previous_page=max([p for p in pages if p < page], default=None),
                locale=g.locale)


@bp.route("/s/<token>/thanks")
def thanks(token: str):
    invitation = _known_invitation(token)
    if invitation is not None:
        g.locale = _survey_locale(invitation)
    if invitation is None or invitation.state != "completed":
        abort(404)  # unknown, or not finished yet: nothing to thank for
    return render_template("surveys/thanks.html", invitation=invitation)
