"""Login, logout and role checks for staff pages."""
from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Email

from core.accounts import User, audit
from core.db import db, utcnow

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
limiter = Limiter(key_func=get_remote_address, default_limits=[])
bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


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


def _safe_next(target: str | None) -> str | None:
    # Only same-site relative paths: an open redirect would make phishing links look like ours.
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.email == form.email.data.strip().lower()))
        if user is None or not user.active or not user.check_password(form.password.data):
            flash(_l("Wrong e-mail or password."), "error")
            return render_template("auth/login.html", form=form), 401
        session.clear()  # a fresh session on login: no fixation
        login_user(user)
        user.last_login_at = utcnow()
        audit("login", f"user:{user.id}", user=user)
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")) or url_for("core.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
