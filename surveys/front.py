"""The first visit of a survey link, served in front of Flask.

Opening the link an SMS or an e-mail carries is the product's most frequent request, and the
least varied: an invitation nobody has answered yet gets its questionnaire's first page, the
same for every invitation of a version but for the token and the page's CSRF value
(views.cached_first_page). Flask's request machinery (contexts, routing, hooks, the response
object) cost as much CPU as everything else the page needs: one read of the invitation.

`SurveyFront` wraps the app's WSGI callable and answers exactly that request: GET /s/<token>,
no query string, no language remembered in a cookie, an invitation that can be answered and has
no response, its first page already rendered by this process. It sends the bytes, status and
headers the view sends (tests/test_survey_front.py compares them). Every other request, and
any of these the front cannot answer so (a failed read included: the view meets the same
error and shows its page), goes to Flask unchanged."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from core.db import ReservedReader, db
from core.web import SECURITY_HEADERS
from surveys.services import unanswered_invitation
from surveys.views import LANG_COOKIE, cached_first_page, page_locale

TOKEN = re.compile(r"/s/([A-Za-z0-9_-]{1,64})")  # what new_tokens makes; anything else: Flask
HTML = "text/html; charset=utf-8"

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class SurveyFront:
    """WSGI middleware: `app.wsgi_app = SurveyFront(app, app.wsgi_app)`."""

    def __init__(self, app: Flask, inner: WSGIApp):
        self.app, self.inner, self.reader = app, inner, None
        self.served = 0  # first visits answered here, for the tests and anyone debugging

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        page = self.first_visit(environ)
        if page is None:
            return self.inner(environ, start_response)
        body = page.encode()
        start_response("200 OK", [("Content-Type", HTML), ("Content-Length", str(len(body))), *SECURITY_HEADERS])
        self.served += 1
        return [body]

    def first_visit(self, environ: dict[str, Any]) -> str | None:
        """The page if `environ` is a first visit this front can answer, else None."""
        if (environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING") or environ.get("SCRIPT_NAME")
                or LANG_COOKIE in environ.get("HTTP_COOKIE", "")):
            return None
        found = TOKEN.fullmatch(environ.get("PATH_INFO", ""))
        if found is None:
            return None
        try:
            first = unanswered_invitation(found.group(1), read=self._reader().first)
        except Exception:
            # SurveyUnavailable (the view shows the 404 / 410 page), or a failed read (the view
            # meets the same error and shows its page)
            return None
        if first is None:  # answers saved: the view shows them
            return None
        return cached_first_page(first, page_locale(first.locale), self.app.secret_key)

    def _reader(self) -> ReservedReader:
        if self.reader is None:  # on the app's engine, once: reading it needs an app context
            with self.app.app_context():
                self.reader = ReservedReader(db.engine)
        return self.reader
