"""Pages that belong to no area: home, health check, language switch, errors, headers."""
from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import text

from core.db import db
from core.i18n import SUPPORTED

bp = Blueprint("core", __name__)

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


def add_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")  # survey tokens live in URLs
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    return response


def _error_page(status: int):
    def handler(error):
        # The exception's own headers matter: 405 must say what is Allowed (RFC 9110 15.5.6),
        # 429 when to retry.
        headers = [(k, v) for k, v in getattr(error, "get_headers", lambda: [])()
                   if k.lower() != "content-type"]
        if request.path.startswith(("/api/", "/twilio/")):
            return jsonify(error=getattr(error, "description", str(status))), status, headers
        from flask_wtf.csrf import CSRFError
        expired_form = isinstance(error, CSRFError)
        return render_template("error.html", status=status, expired_form=expired_form), status, headers
    return handler


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(add_security_headers)
    for status in (400, 403, 404, 405, 410, 413, 429, 500):
        app.register_error_handler(status, _error_page(status))
