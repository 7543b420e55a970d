"""Login limiting that slows guessing without letting an attacker lock the real user out.

Only failed attempts count (`deduct_when`), in storage every worker shares (Redis when
`RATELIMIT_STORAGE_URI=redis://…`; memory for tests and a single process). Three limits:

- per account and client (IP address, or the device cookie below): strict. An attacker hammering
  an account from their own address is stopped; the real user, on another address, is untouched.
- per account, for clients the account has never logged in from: looser, but it caps what an
  attacker with many addresses (a botnet) can try against one account.
- per client address across accounts: against one address spraying many accounts.

A browser that has logged in to an account gets a signed "device cookie" (OWASP, "Slow Down
Online Guessing Attacks with Device Cookies"); with it, only its own strict limit applies, so a
distributed attack that exhausts the account-wide limit still leaves the real user, on their usual
browser, able to log in. Client addresses come from `request.remote_addr`, which ProxyFix
rewrites from X-Forwarded-For only for the `HUIFANG_PROXY_HOPS` proxies configured (app.py)."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from flask import current_app, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer

DEVICE_COOKIE = "hf_device"
DEVICE_DAYS = 180
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _failed(response) -> bool:
    return response.status_code == 401


def _account() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return hashlib.sha256(email.encode()).hexdigest()[:24]  # no e-mail addresses in Redis keys


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="huifang-trusted-device")


def _device() -> str | None:
    """The nonce of this browser's device cookie, if it is valid for the account being tried."""
    try:
        data = _serializer().loads(request.cookies.get(DEVICE_COOKIE, ""), max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    return data.get("n") if isinstance(data, dict) and data.get("a") == _account() else None


def trust_device(response, user):
    """After a successful login: this browser is now a known device of `user`."""
    account = hashlib.sha256(user.email.encode()).hexdigest()[:24]
    token = _serializer().dumps({"a": account, "n": secrets.token_urlsafe(12)})
    response.set_cookie(DEVICE_COOKIE, token, max_age=DEVICE_DAYS * 86400, httponly=True,
                        samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def _account_and_client() -> str:
    device = _device()
    return f"login:{_account()}:" + (f"device:{device}" if device else f"ip:{get_remote_address()}")


def _config(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def login_limits(view: Callable) -> Callable:
    view = limiter.limit(_config("LOGIN_LIMIT_ACCOUNT_CLIENT"), key_func=_account_and_client,
                         methods=["POST"], deduct_when=_failed, scope="login-account-client")(view)
    view = limiter.limit(_config("LOGIN_LIMIT_ACCOUNT"), key_func=lambda: f"login:{_account()}",
                         methods=["POST"], deduct_when=_failed, exempt_when=lambda: _device() is not None,
                         scope="login-account")(view)
    return limiter.limit(_config("LOGIN_LIMIT_CLIENT"), key_func=lambda: f"login-ip:{get_remote_address()}",
                         methods=["POST"], deduct_when=_failed, exempt_when=lambda: _device() is not None,
                         scope="login-client")(view)


def code_limits(view: Callable) -> Callable:
    """Second-factor codes: per account whose password was right (a six-digit code would
    otherwise fall to a few hundred thousand tries)."""
    return limiter.limit(_config("LOGIN_LIMIT_CODE"), key_func=lambda: f"code:{session.get('pending')}",
                         methods=["POST"], deduct_when=_failed, scope="login-code")(view)
