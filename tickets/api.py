"""POST /api/v1/tickets: the operator's systems report each handled ticket."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from core.accounts import api_key_valid
from core.db import db
from tickets.services import intake_ticket, validate_ticket

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


@bp.before_request
def require_api_key():
    key = _bearer()
    if key is None or not api_key_valid(key, current_app.config["HUIFANG_API_KEYS"]):
        response = jsonify(error="a valid API key is required: Authorization: Bearer <key>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="huifang"'
        return response, 401
    db.session.commit()  # the key's last_used_at


@bp.post("/tickets")
def create_ticket():
    body = request.get_json(silent=True)
    if body is None:
        return jsonify(error="the body must be JSON (Content-Type: application/json)",
                       errors={"body": "must be a JSON object"}), 400
    clean, errors = validate_ticket(body)
    if errors:
        return jsonify(error="invalid ticket", errors=errors), 400
    result = intake_ticket(clean)
    return jsonify(result.as_json()), 201 if result.created else 200
