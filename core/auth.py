"""Login, logout, second factor, password change and role checks for staff pages.

Sessions are revocable: the session stores the account's `session_version` (through Flask-Login's
id), and logout, deactivation, a password change or a second-factor reset bump it, which ends
every session of the account at its next request. Staff sessions also end after
`HUIFANG_IDLE_MINUTES` without a request."""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    after_this_request,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from core import loginlimits
from core.accounts import User, audit
from core.db import db, utcnow
from core.passwords import password_problem
from core.twofactor import (
    confirm_enrolment,
    enrolment_qr_svg,
    enrolment_secret,
    has_second_factor,
    needs_second_factor,
    unused_recovery_codes,
    use_recovery_code,
    verify_totp,
)

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.session_protection = None  # sessions are revoked server-side, see above
limiter = loginlimits.limiter
bp = Blueprint("auth", __name__)
PENDING_SECONDS = 300  # between the password and the second factor


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """`id:version`; a session of an older version (logged out, deactivated...) loads nobody."""
    ident, _sep, version = user_id.partition(":")
    if not ident.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


@bp.before_app_request
def end_idle_sessions():
    if "_user_id" not in session:
        return None
    now, seen = int(time.time()), session.get("seen", 0)
    if now - seen > current_app.config["IDLE_MINUTES"] * 60:
        logout_user()
        session.clear()
        flash(_("You were logged out after %(n)s minutes without activity.",
                n=current_app.config["IDLE_MINUTES"]), "info")
        if request.method == "GET" and not request.path.startswith(("/api/", "/twilio/")):
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return None
    if now - seen > 30:  # refresh the stamp at most twice a minute, not on every request
        session["seen"] = now
    return None


def role_required(*roles: str) -> Callable:
    """Logged in, and holding one of `roles` (admins hold every role)."""
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    submit = SubmitField(_l("Log in"))


class CodeForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[DataRequired(), Length(max=40)])
    submit = SubmitField(_l("Continue"))


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=128)])
    repeat = PasswordField(_l("New password again"),
                           validators=[DataRequired(), EqualTo("new", _l("The two new passwords differ."))])
    submit = SubmitField(_l("Change password"))


def _safe_next(target: str | None) -> str | None:
    # Only same-site relative paths: an open redirect would make phishing links look like ours.
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def _start_session(user: User, how: str) -> str:
    """The one place a staff session begins: fresh (no fixation), stamped, audited. Returns
    where to go next."""
    target = _safe_next(session.get("next")) or url_for("core.home")
    session.clear()
    login_user(user)
    session["seen"] = int(time.time())
    user.last_login_at = utcnow()
    audit("login", f"user:{user.id}", user=user, second_factor=how)
    db.session.commit()
    after_this_request(functools.partial(loginlimits.trust_device, user=user))
    return target


def _pending_user() -> User | None:
    """The account whose password was right and whose second factor is awaited."""
    ident, started = session.get("pending"), session.get("pending_at", 0)
    if not ident or time.time() - started > PENDING_SECONDS:
        return None
    user = load_user(ident)
    return user if user is not None and needs_second_factor(user) else None


@bp.route("/login", methods=["GET", "POST"])
@loginlimits.login_limits
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.email == form.email.data.strip().lower()))
        if user is None or not user.active or not user.check_password(form.password.data):
            flash(_l("Wrong e-mail or password."), "error")
            return render_template("auth/login.html", form=form), 401
        session.clear()
        session["next"] = _safe_next(request.args.get("next"))
        if not needs_second_factor(user):
            return redirect(_start_session(user, "none"))  # agents: password only (SECURITY.md)
        session.update(pending=user.get_id(), pending_at=int(time.time()))
        return redirect(url_for(".second_factor" if has_second_factor(user) else ".enrol"))
    return render_template("auth/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
@loginlimits.code_limits
def second_factor():
    user = _pending_user()
    if user is None or not has_second_factor(user):
        return redirect(url_for(".login"))
    form = CodeForm()
    if form.validate_on_submit():
        if verify_totp(user, form.code.data):
            return redirect(_start_session(user, "totp"))
        if use_recovery_code(user, form.code.data):
            target = _start_session(user, "recovery_code")
            flash(_("You used a recovery code; %(n)s are left.", n=unused_recovery_codes(user)), "info")
            return redirect(target)
        db.session.commit()
        form.code.errors.append(_("This code is wrong or was used already."))
        return render_template("auth/code.html", form=form), 401
    return render_template("auth/code.html", form=form)


@bp.route("/login/enrol", methods=["GET", "POST"])
@loginlimits.code_limits
def enrol():
    user = _pending_user()
    if user is None:
        return redirect(url_for(".login"))
    if has_second_factor(user):
        return redirect(url_for(".second_factor"))
    secret = enrolment_secret(user)
    form = CodeForm()
    if form.validate_on_submit():
        codes = confirm_enrolment(user, form.code.data)
        if codes:
            audit("enrol_second_factor", f"user:{user.id}", user=user)
            return render_template("auth/recovery_codes.html", codes=codes,
                                   next=_start_session(user, "totp"))
        form.code.errors.append(_("This code is wrong: check the time on your phone and try the next one."))
    return render_template("auth/enrol.html", form=form, secret=secret, qr=enrolment_qr_svg(user)), \
        401 if form.errors else 200


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        problem = password_problem(form.new.data, user.email, user.name)
        if not user.check_password(form.current.data):
            form.current.errors.append(_("The current password is wrong."))
        elif problem:
            form.new.errors.append(problem)
        else:
            user.set_password(form.new.data)
            user.revoke_sessions()  # every other session of this account ends
            audit("change_password", f"user:{user.id}")
            db.session.commit()
            login_user(user)  # this session continues, on the new version
            flash(_("Password changed. Your other sessions have ended."), "success")
            return redirect(url_for("core.home")), 303
    return render_template("auth/password.html", form=form), 400 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user = current_user._get_current_object()
    user.revoke_sessions()  # a copy of the cookie (replayed, stolen) stops working too
    audit("logout", f"user:{user.id}")
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
