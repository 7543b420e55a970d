"""Pages that belong to no area: home, health check, language switch, errors, headers."""
from __future__ import annotations

import json

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.globals import request_ctx
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import text
from werkzeug.routing import IntegerConverter
from wtforms.validators import ValidationError
from wtforms.widgets import Select

from core.db import db
from core.i18n import SUPPORTED
from core.text import SURROGATE, without_surrogates

bp = Blueprint("core", __name__)
MAX_ID = 2**31 - 1  # PostgreSQL `integer`: a larger id in a path is simply not found
MAX_PAGE = 100_000
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099


class DatabaseId(IntegerConverter):
    """The `int` path converter, bounded to what an id column holds: /callbacks/99999999999999999999
    is a 404, not an overflow in the database driver."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def page_arg(name: str = "page") -> int:
    """A list's page number from the query string; missing, malformed or absurd values are
    read as the nearest sensible page."""
    return min(max(request.args.get(name, 1, type=int), 1), MAX_PAGE)


def plausible_date(form, field) -> None:
    """A WTForms validator for filter dates: year 1 or 9999 overflow date arithmetic."""
    if field.data and not EARLIEST_YEAR <= field.data.year <= LATEST_YEAR:
        raise ValidationError(_l("Enter a date between %(first)s and %(last)s.",
                                 first=f"{EARLIEST_YEAR}-01-01", last=f"{LATEST_YEAR}-12-31"))

# Everything is served from 'self'; charts are inline SVG or data: images. No inline script.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@bp.route("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.has_role("agent"):
        return redirect(url_for("callbacks.work_list"))
    return redirect(url_for("reports.dashboard"))


@bp.route("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any database error means "not healthy", never a crash
        return jsonify(status="error", database=type(exc).__name__), 503
    return jsonify(status="ok", database="ok")


def api_description() -> dict:
    """OpenAPI 3.1 for every /api/v1 route: each area with API routes keeps the description of
    its paths in `<area>/openapi.json`; they are merged here (read as files, so core imports
    no area). A new path goes into its area's file."""
    import json
    from pathlib import Path

    document: dict = {"openapi": "3.1.0", "paths": {}, "components": {}}
    for part in sorted((Path(__file__).resolve().parent.parent).glob("*/openapi.json")):
        fragment = json.loads(part.read_text())
        for key in ("info", "servers"):
            document.setdefault(key, fragment.get(key))
        document["paths"].update(fragment.get("paths", {}))
        for section, items in fragment.get("components", {}).items():
            document["components"].setdefault(section, {}).update(items)
    document["info"] = {**(document.get("info") or {}), "title": "Huifang API"}
    return document


@bp.route("/api/openapi.json")
def openapi():
    """The API description integrators (and the schemathesis and fuzz tests) work from."""
    return jsonify(api_description())


@bp.route("/lang/<code>", methods=["POST"])
def switch_language(code: str):
    if code in SUPPORTED:
        session["lang"] = code
    back = request.referrer or url_for("core.home")
    return redirect(back if back.startswith(request.host_url) else url_for("core.home"))


SECURITY_HEADERS = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"),
                    ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "no-referrer"),  # survey tokens live in URLs
                    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))


def add_security_headers(response):
    """Each header unless the view set its own (one pass over the headers: this runs on every
    response)."""
    present = {name.lower() for name, _value in response.headers}
    response.headers.extend([(name, value) for name, value in SECURITY_HEADERS if name.lower() not in present])
    return response


class CapabilitySessions(SecureCookieSessionInterface):
    """The signed-cookie session, except under `prefixes`: pages whose link carries its own
    capability (a survey token) keep no session, so they neither read nor set the cookie and
    a staff member's session never reaches them."""

    def __init__(self, prefixes: tuple[str, ...]):
        self.prefixes = prefixes

    def open_session(self, app: Flask, request) -> SecureCookieSession | None:
        if request.path.startswith(self.prefixes):
            return self.session_class()  # empty; never saved, see below
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        if not request.path.startswith(self.prefixes):
            super().save_session(app, session, response)


class Huifang(Flask):
    """Flask, with a lean path for the pages customers open from a link (the survey): requests
    to the blueprints in `customer_blueprints` skip the staff extensions' request hooks
    (Flask-WTF's session CSRF check, Flask-Limiter, Flask-Login's idle sessions and remember
    cookie), which cost as much CPU as the survey page itself. Those pages keep no session
    (CapabilitySessions), check a CSRF value of their own and have no rate limits; they keep
    what every page has: the refusal of a NUL in the URL, the views' own after-request
    functions (the language cookie) and the security headers. Errors are handled as anywhere."""

    customer_blueprints: frozenset[str] = frozenset()

    def preprocess_request(self):
        if request.blueprint in self.customer_blueprints:
            refuse_nul_in_url()
            return None
        return super().preprocess_request()

    def process_response(self, response):
        if request.blueprint not in self.customer_blueprints:
            return super().process_response(response)
        for func in request_ctx._after_request_functions:
            response = func(response)
        return add_security_headers(response)


def _error_page(status: int):
    def handler(error):
        # The exception's own headers matter: 405 must say what is Allowed (RFC 9110 15.5.6),
        # 429 when to retry.
        headers = [(k, v) for k, v in getattr(error, "get_headers", lambda: [])()
                   if k.lower() != "content-type"]
        if status >= 500:
            db.session.rollback()  # a failed transaction must not fail the page that reports it
        if request.path.startswith(("/api/", "/twilio/")):
            return jsonify(error=getattr(error, "description", str(status))), status, headers
        from flask_wtf.csrf import CSRFError
        expired_form = isinstance(error, CSRFError)
        try:
            return render_template("error.html", status=status, expired_form=expired_form), status, headers
        except Exception:  # the error page itself never fails: the plain words, in both languages
            current_app.logger.exception("the %s page could not be rendered", status)
            return PLAIN_ERROR, status, [("Content-Type", "text/plain; charset=utf-8")]
    return handler


PLAIN_ERROR = "出错了,请稍后再试。 Something went wrong. Please try again later.\n"


class StrictJSONProvider(DefaultJSONProvider):
    """Request bodies that cannot be walked are bad requests (400), not crashes: nesting deeper
    than any real body. Lone surrogates, which no database stores, become U+FFFD (as the ticket
    API's fields do) in every JSON body."""

    MAX_DEPTH = 32

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None
        if _check_json(value, self.MAX_DEPTH):
            value = super().loads(without_surrogates(super().dumps(value, ensure_ascii=False)))
        return value


def _check_json(value, max_depth: int) -> bool:
    """Raises ValueError when nested too deeply; True when a string holds a lone surrogate.
    The walk visits containers only; the strings (a batch of 1,000 tickets holds ~20,000) are
    searched at once in the C encoder's output, which writes surrogates as they are."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if not children:
            continue
        if depth + 1 > max_depth:  # its keys and values lie deeper than allowed
            raise ValueError("the JSON is nested too deeply")
        stack += [(v, depth + 1) for v in children if isinstance(v, dict | list)]
    return SURROGATE.search(json.dumps(value, ensure_ascii=False)) is not None


def refuse_nul_in_url() -> None:
    """A NUL in a path parameter or the query string is never meaningful, and PostgreSQL
    refuses it in any text: a clear 400 before any view runs."""
    values = [*(request.view_args or {}).values(), *request.args.keys(), *request.args.values()]
    if any(isinstance(value, str) and "\x00" in value for value in values):
        abort(400)


def register(app: Flask) -> None:
    """Called before any blueprint, so every route's <int:...> uses the bounded converter."""
    app.url_map.converters["int"] = DatabaseId
    app.json = StrictJSONProvider(app)
    app.register_blueprint(bp)
    app.before_request(refuse_nul_in_url)
    app.after_request(add_security_headers)
    for status in (400, 403, 404, 405, 410, 413, 429, 500):
        app.register_error_handler(status, _error_page(status))


class ManyOptions(Select):
    """A drop-down of thousands of values (the dashboard's 2,000 agents): each plain option is
    written directly, the same HTML WTForms writes (its `html_params` per option cost ~0.1 ms,
    a fifth of a dashboard view at 10M responses). Options with extra attributes go through
    WTForms as usual."""

    @classmethod
    def render_option(cls, choice, **kwargs) -> Markup:
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        value, label = escape(choice.value), escape(choice.label or choice.value)
        selected = " selected" if choice.selected else ""
        return Markup(f'<option{selected} value="{value}">{label}</option>')

