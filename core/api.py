"""What every JSON API route shares: bearer keys with scopes, and errors as JSON.

401 without a valid key (with `WWW-Authenticate`), 403 when the key lacks the route's scope,
400 with `errors: {field: message}` for bad input."""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, jsonify, request

from core.accounts import api_key_scopes
from core.db import db


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def api_error(status: int, message: str, errors: dict[str, str] | None = None):
    body = {"error": message}
    if errors is not None:
        body["errors"] = errors
    return jsonify(body), status


def require_scope(scope: str) -> Callable:
    """The view runs only for a valid key that holds `scope`."""
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            key = _bearer()
            scopes = api_key_scopes(key, current_app.config["HUIFANG_API_KEYS"]) if key else None
            if scopes is None:
                response, status = api_error(401, "a valid API key is required: Authorization: Bearer <key>")
                response.headers["WWW-Authenticate"] = 'Bearer realm="huifang"'
                return response, status
            db.session.commit()  # the key's last_used_at
            if scope not in scopes:
                return api_error(403, f"this API key lacks the scope {scope}")
            return view(*args, **kwargs)
        return wrapped
    return decorator
