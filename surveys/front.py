"""A survey link's first visit and first answer, served in front of Flask.

Opening the link an SMS or an e-mail carries, and answering the first page, are the product's
most frequent requests, and the least varied. Flask's request machinery (contexts, routing,
hooks, the response object) and the ORM session cost more CPU than what these requests need:
one statement each, a read of the invitation or the write of its first answer.

`SurveyFront` wraps the app's WSGI callable and answers exactly these requests, with the bytes,
status and headers the view sends (tests/test_survey_front.py compares them):
- GET /s/<token>, no query string, no language remembered in a cookie, an invitation that can
  be answered and has no response, its first page already rendered by this process: the page
  (views.cached_first_page);
- POST /s/<token> from that first page, on PostgreSQL: no query string, the page's CSRF value,
  answers that pass against the questionnaire version the page names (VERSION_FIELD, parsed
  already by this process) and lead to another page (completing a response is the view's).
  One statement stores them if the invitation can be answered, has no response and has that
  version (answering.store_first_answer); then the view's redirect to the next page.
Every other request, and any of these the front cannot answer so (a failed read or write
included: the view meets the same error and shows its page; an invitation answered meanwhile:
the view updates its answers), goes to Flask unchanged, with the body it sent."""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, redirect, url_for
from werkzeug.datastructures import MultiDict

from core.db import ReservedConnection, db
from core.web import SECURITY_HEADERS, add_security_headers
from surveys.answering import store_first_answer
from surveys.forms import PageAnswers
from surveys.services import Unanswered, cached_definition, unanswered_invitation
from surveys.views import (
    LANG_COOKIE,
    TOKEN_MARK,
    VERSION_FIELD,
    cached_first_page,
    csrf_matches,
    page_locale,
    page_to_answer,
    submitted_page,
)

TOKEN = re.compile(r"/s/([A-Za-z0-9_-]{1,64})")  # what new_tokens makes; anything else: Flask
HTML = "text/html; charset=utf-8"
FORM = "application/x-www-form-urlencoded"
LARGEST_ANSWER = 64 * 1024  # bytes of form: a page of answers; anything larger goes to Flask

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
Reply = tuple[str, list[tuple[str, str]], bytes]  # status, headers, body


class SurveyFront:
    """WSGI middleware: `app.wsgi_app = SurveyFront(app, app.wsgi_app)`."""

    def __init__(self, app: Flask, inner: WSGIApp):
        self.app, self.inner, self.connection = app, inner, None
        self.served = 0  # requests answered here, for the tests and anyone debugging
        self.redirects: dict[int, Reply] = {}  # the view's redirect to a page, for TOKEN_MARK

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        reply = None
        if method == "GET":
            reply = self.first_visit(environ)
        elif method == "POST":
            reply = self.first_answer(environ)
        if reply is None:
            return self.inner(environ, start_response)
        status, headers, body = reply
        start_response(status, headers)
        self.served += 1
        return [body]

    def first_visit(self, environ: dict[str, Any]) -> Reply | None:
        """The page if `environ` is a first visit this front can answer, else None."""
        if LANG_COOKIE in environ.get("HTTP_COOKIE", ""):
            return None
        first = self._unanswered(environ)
        if first is None:
            return None
        page = cached_first_page(first, page_locale(first.locale), self.app.secret_key)
        if page is None:
            return None
        body = page.encode()
        return "200 OK", [("Content-Type", HTML), ("Content-Length", str(len(body))), *SECURITY_HEADERS], body

    def first_answer(self, environ: dict[str, Any]) -> Reply | None:
        """The redirect to the next page once the first page's answers in `environ` are stored,
        if this front can store them; else None, with the body put back for Flask."""
        if not self._connection().writes or environ.get("CONTENT_TYPE", "").partition(";")[0].strip() != FORM:
            return None
        token = _survey_token(environ)
        form = token and _form(environ)
        if form is None or not csrf_matches(self.app.secret_key, token, form):
            return None
        # The version the page was made for: FIRST_ANSWER stores nothing if it is not the
        # invitation's (a page made before the form carried it goes to the view).
        version_id, _, checksum = form.get(VERSION_FIELD, "").partition("-")
        definition = version_id.isdigit() and cached_definition(int(version_id), checksum)
        if not definition:
            return None
        page = page_to_answer(definition, {}, 0, form.get("page"))
        sheet = PageAnswers(definition, definition.on_page(page), "zh-CN", {}, formdata=form)  # no form built
        submitted = submitted_page(sheet, page)
        if submitted is None or submitted[1] is None:  # shown again, or the survey's end: the view
            return None
        values, next_page = submitted
        try:
            if not store_first_answer(self._connection().first, token, int(version_id), checksum, page, values):
                return None  # unknown, closed, answered, another version: the view
        except Exception:  # the view meets the same error, and shows its page
            return None
        return self._redirect(token, next_page)

    def _unanswered(self, environ: dict[str, Any]) -> Unanswered | None:
        """The invitation of a /s/<token> request without a query string or a script root that
        can be answered and has no response; None for any other."""
        token = _survey_token(environ)
        if token is None:
            return None
        try:
            return unanswered_invitation(token, read=self._connection().first)
        except Exception:
            # SurveyUnavailable (the view shows the 404 / 410 page), or a failed read (the view
            # meets the same error and shows its page)
            return None

    def _redirect(self, token: str, page: int) -> Reply:
        """The view's redirect to `page` of `token`'s survey (built by Flask once per page)."""
        if page not in self.redirects:
            with self.app.test_request_context():
                moved = add_security_headers(redirect(url_for("surveys.answer", token=TOKEN_MARK, page=page)))
                self.redirects[page] = moved.status, list(moved.headers), moved.get_data()
        status, headers, body = self.redirects[page]
        body = body.replace(TOKEN_MARK.encode(), token.encode())
        return status, [(name, str(len(body)) if name == "Content-Length" else value.replace(TOKEN_MARK, token))
                        for name, value in headers], body

    def _connection(self) -> ReservedConnection:
        if self.connection is None:  # on the app's engine, once: reading it needs an app context
            with self.app.app_context():
                self.connection = ReservedConnection(db.engine)
        return self.connection


def _survey_token(environ: dict[str, Any]) -> str | None:
    """The token of a /s/<token> request without a query string or a script root; else None."""
    if environ.get("QUERY_STRING") or environ.get("SCRIPT_NAME"):
        return None
    found = TOKEN.fullmatch(environ.get("PATH_INFO", ""))
    return found.group(1) if found else None


def _form(environ: dict[str, Any]) -> MultiDict | None:
    """The urlencoded form of a POST as Flask reads it (werkzeug's parser), its body put back in
    `environ` for Flask; None when it is too large or not text."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= LARGEST_ANSWER:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        return MultiDict(parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote"))
    except ValueError:
        return None
