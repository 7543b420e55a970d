"""The web survey: /s/<token>, one page at a time, saved page by page so it can be resumed.

The token in the link is the customer's capability, so these pages keep no session: no session
cookie, no login, no CSRF secret in a session. The form's CSRF value is instead an HMAC of the
invitation token and the page under the app's secret key (`survey_csrf`): a page of another
invitation, or a forged value, is refused. A language switch is remembered in a cookie that
only this survey's paths receive."""
from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

from flask import (
    Blueprint,
    abort,
    after_this_request,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from core.db import db
from core.i18n import SUPPORTED
from surveys.answering import (
    Answering,
    answering,
    answers_after,
    start_response,
    store_page,
    stored_response,
)
from surveys.definition import Definition
from surveys.forms import PageAnswers
from surveys.models import Invitation
from surveys.services import (
    SurveyUnavailable,
    Unanswered,
    cached_definition,
    complete_response,
    definition_by_id,
    unanswered_invitation,
)

bp = Blueprint("surveys", __name__)


LANG_COOKIE = "survey_lang"
VERSION_FIELD = "questionnaire-version"  # a hyphen: no question has this key (parse_definition)


def _survey_locale(token: str, customer_locale: str | None) -> str:
    chosen = request.args.get("lang")
    if chosen in SUPPORTED:
        after_this_request(functools.partial(_remember_language, token=token, locale=chosen))
        return chosen
    return page_locale(customer_locale, request.cookies.get(LANG_COOKIE))


def page_locale(customer_locale: str | None, remembered: str | None = None) -> str:
    """The survey's language without a switch in the URL: the one chosen earlier on this survey
    (its cookie), else the customer's, else zh-CN."""
    return remembered if remembered in SUPPORTED else customer_locale or "zh-CN"


def _remember_language(response, token: str, locale: str):
    # Scoped to this survey's paths (the page and its thanks), for the browser's session only.
    response.set_cookie(LANG_COOKIE, locale, path=f"/s/{token}", httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def version_value(version_id: int, checksum: str) -> str:
    """The page's questionnaire version as its form sends it (VERSION_FIELD): the survey's
    front checks a first answer against that version without reading the invitation first."""
    return f"{version_id}-{checksum}"


def survey_csrf(token: str, page: int | str) -> str:
    """The CSRF value of one page of one invitation's survey."""
    return page_csrf(current_app.secret_key, token, page)


def page_csrf(secret: str, token: str, page: int | str) -> str:
    """survey_csrf under the app's `secret`, outside any request (surveys/front.py)."""
    message = f"survey-csrf:{token}:{page}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _check_csrf(token: str) -> None:
    """Refuses (400, before anything is stored) a POST whose CSRF value is missing or not this
    invitation's page's."""
    if not request.form.get("csrf_token", ""):
        raise CSRFError("The CSRF token is missing.")
    if not csrf_matches(current_app.secret_key, token, request.form):
        raise CSRFError("The CSRF token is invalid.")


def csrf_matches(secret: str, token: str, form) -> bool:
    """Whether a submitted `form` carries the CSRF value of the page it names, under `secret`."""
    return hmac.compare_digest(form.get("csrf_token", ""), page_csrf(secret, token, form.get("page", "")))


def _known_invitation(token: str) -> Invitation | None:
    return db.session.scalar(select(Invitation).where(Invitation.token == token)) if len(token) <= 64 else None


def _shown_pages(definition, answers) -> list[int]:
    """The pages with a question skip logic shows, in order."""
    return sorted({q.page for q in definition.visible(answers)})


def page_to_answer(definition: Definition, answers: dict[str, Any], progress: int, requested: str | None) -> int | None:
    """The page a request for page `requested` (as sent) gets, given the `answers` saved and the
    last page submitted (`progress`): that page if skip logic shows it and it is not past the
    first page not yet submitted (going back is fine, skipping ahead is not); else that first
    page; None when every page was submitted."""
    shown = _shown_pages(definition, answers)
    frontier = next((p for p in shown if p > progress), None)
    try:
        wanted = int(requested)  # as request.form.get("page", type=int) reads it
    except (TypeError, ValueError):
        wanted = None
    return wanted if wanted in shown and (frontier is None or wanted <= frontier) else frontier


def submitted_page(sheet: PageAnswers, page: int) -> tuple[dict[str, Any], int | None] | None:
    """A page's submit (the sheet's formdata) checked: the answers to store (None removes one)
    and the page that comes next (None: the survey is complete); None when the page must be
    shown again (sheet.errors, or a follow-up question sheet.revealed)."""
    if not sheet.submit(sheet.formdata.getlist("offered")):
        return None
    values = sheet.answers()
    following = _shown_pages(sheet.definition, answers_after(sheet.saved, values))
    return values, next((p for p in following if p > page), None)


def _unavailable(exc: SurveyUnavailable, token: str):
    invitation = _known_invitation(token)
    if invitation is not None:  # the invitation's language, not the browser's
        g.locale = _survey_locale(token, invitation.customer.locale)
    return render_template("surveys/unavailable.html", reason=exc.reason), exc.status


@bp.route("/s/<token>", methods=["GET", "POST"])
def answer(token: str):
    posted = request.method == "POST"  # else GET, or HEAD (Flask answers it as GET, without the body)
    try:
        if not posted and (first := unanswered_invitation(token)) is not None:
            return _first_page(first)
        found = answering(token, lock=posted)
    except SurveyUnavailable as exc:
        return _unavailable(exc, token)
    g.locale = _survey_locale(token, found.locale)
    if posted:
        _check_csrf(token)
    definition = definition_by_id(found.version_id, found.checksum)
    source = request.form if posted else request.args
    page = page_to_answer(definition, found.answers, found.progress, source.get("page"))
    if page is None:  # every page was submitted but the completion did not land: finish it now
        start_response(found)
        complete_response(stored_response(found))
        return redirect(url_for(".thanks", token=token))
    if not posted and not found.answers:
        return _pristine_page(token, found.version_id, found.checksum, page)
    sheet = PageAnswers(definition, definition.on_page(page), g.locale, found.answers, meta={"csrf": False},
                        formdata=request.form if posted else None)
    if not posted:
        return render_template("surveys/page.html", **_context(found, definition, sheet, page))
    submitted = submitted_page(sheet, page)
    if submitted is None:
        # 200 when only a follow-up was revealed: nothing is wrong, there is one more question
        status = 400 if not sheet.revealed else 200
        return render_template("surveys/page.html", **_context(found, definition, sheet, page)), status
    values, next_page = submitted
    # A page before the last commits with its answers (one round trip); the last one is
    # completed in the same transaction: complete_response commits.
    store_page(found, values, page, commit=next_page is not None)
    if next_page is None:
        complete_response(stored_response(found))  # a concurrent double submit completes once
        return redirect(url_for(".thanks", token=token))
    return redirect(_page_url(token, next_page))


def _first_page(first: Unanswered):
    """The first visit of a link: no objects loaded, the page from the cache below."""
    g.locale = _survey_locale(first.token, first.locale)
    definition = definition_by_id(first.version_id, first.checksum)
    # With nothing answered the only page to show is the first with a visible question.
    return _pristine_page(first.token, first.version_id, first.checksum, definition.first_page)


# A page nobody has answered yet is the same for every invitation of a questionnaire version
# (versions are immutable) but for the token and the CSRF value: render it once per worker.
_PRISTINE: dict[tuple[int, str, int, str], str] = {}
TOKEN_MARK, CSRF_MARK = "__HF_TOKEN__", "__HF_CSRF__"


def _pristine_page(token: str, version_id: int, checksum: str, page: int) -> str:
    # the checksum too: a test database reuses ids for other definitions
    key = (version_id, checksum, page, g.locale)
    if key not in _PRISTINE:
        definition = definition_by_id(version_id, checksum)
        sheet = PageAnswers(definition, definition.on_page(page), g.locale, {}, meta={"csrf": False})
        context = _context(_Placeholder(token=TOKEN_MARK, answers={}, version_id=version_id, checksum=checksum),
                           definition, sheet, page)
        _PRISTINE[key] = render_template("surveys/page.html", **{**context, "csrf_value": CSRF_MARK})
    return _filled(_PRISTINE[key], token, page, current_app.secret_key)


def _filled(pristine: str, token: str, page: int, secret: str) -> str:
    return pristine.replace(TOKEN_MARK, token).replace(CSRF_MARK, page_csrf(secret, token, page))


def cached_first_page(first: Unanswered, locale: str, secret: str) -> str | None:
    """The first page of `first`'s survey in `locale` as _first_page shows it, if this process
    has rendered it for another invitation already; None if not (no app, no request needed)."""
    definition = cached_definition(first.version_id, first.checksum)
    if definition is None:
        return None
    page = definition.first_page
    pristine = _PRISTINE.get((first.version_id, first.checksum, page, locale))
    return _filled(pristine, first.token, page, secret) if pristine is not None else None


_PAGE_URLS: dict[tuple[str, int], str] = {}


def _page_url(token: str, page: int) -> str:
    """url_for(".answer", token=token, page=page), built once per page like the pristine pages:
    tokens are URL-safe (new_tokens), they go into the URL as they are."""
    key = (request.script_root, page)
    if key not in _PAGE_URLS:
        _PAGE_URLS[key] = url_for(".answer", token=TOKEN_MARK, page=page)
    return _PAGE_URLS[key].replace(TOKEN_MARK, token)


class _Placeholder:
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def _context(invitation: Answering | _Placeholder, definition, sheet: PageAnswers, page: int) -> dict:
    """`invitation`: its token, questionnaire version and the answers saved."""
    pages = [p for p in definition.pages]
    answers = invitation.answers
    # Numbers run on across pages: the questions shown on earlier pages come first.
    number_offset = sum(1 for q in definition.visible(answers) if q.page < page)
    return dict(number_offset=number_offset, invitation=invitation, definition=definition, sheet=sheet,
                form=sheet.form, questions=sheet.questions,
                page=page, page_number=pages.index(page) + 1, page_count=len(pages),
                previous_page=max([p for p in pages if p < page], default=None),
                locale=g.locale, csrf_value=survey_csrf(invitation.token, page),
                version_field=VERSION_FIELD, version_value=version_value(invitation.version_id, invitation.checksum))


@bp.route("/s/<token>/thanks")
def thanks(token: str):
    invitation = _known_invitation(token)
    if invitation is not None:
        g.locale = _survey_locale(token, invitation.customer.locale)
    if invitation is None or invitation.state != "completed":
        abort(404)  # unknown, or not finished yet: nothing to thank for
    return render_template("surveys/thanks.html", invitation=invitation)
