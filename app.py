"""Huifang application factory: `flask --app app ...`."""
from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from core import config as config_module
from core.auth import limiter, login_manager
from core.db import db
from core.i18n import babel, compile_catalogs, current_locale, select_locale
from core.sealing import check_data_keys

ROOT = Path(__file__).resolve().parent
migrate = Migrate()
csrf = CSRFProtect()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from core.web import Huifang

    app = Huifang(__name__, instance_path=str(ROOT / "instance"))
    app.customer_blueprints = frozenset({"surveys"})  # surveys/views.py: no session, hooks of their own
    app.config.from_mapping(config_module.from_environment(Path(app.instance_path)))
    app.config.update(config or {})
    app.config["MAX_CONTENT_LENGTH"] = app.config.get("MAX_CONTENT_LENGTH") or 5 * 1024 * 1024
    check_data_keys(app.config)  # a malformed HUIFANG_DATA_KEYS stops the start, not a later read
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Concurrent writers (web + scheduler) wait for each other instead of failing.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    elif app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # Reports read rollups by index ranges in tens of milliseconds; PostgreSQL's JIT took
        # 35-150 ms to compile such a query whenever its estimate passed jit_above_cost.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"options": "-c jit=off"}})

    import models  # noqa: F401  (every table, for Alembic and relationships)

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from core.db import configure_sqlite
        with app.app_context():
            configure_sqlite(db.engine)
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = app.config["PROXY_HOPS"]  # only headers our own proxies set count: no spoofed addresses
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    compile_catalogs(Path(app.config["BABEL_TRANSLATION_DIRECTORIES"]))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["current_locale"] = current_locale

    from commands import register_commands
    from core import labels, web
    from core.auth import bp as auth_bp
    from core.db import utcnow
    from core.timeutil import to_local

    web.register(app)
    app.session_interface = web.CapabilitySessions(("/s/",))  # the survey pages (surveys/views.py)
    labels.register(app)
    app.register_blueprint(auth_bp)
    for module in ("surveys.views", "surveys.staff", "tickets.api", "callbacks.views", "channels.views",
                   "channels.webhooks", "reports.views", "reports.analytics_views", "admin.views",
                   "admin.builder", "complaints.views", "complaints.public", "complaints.webhooks",
                   "integrations.api", "integrations.views"):
        area = __import__(module, fromlist=["bp"])
        blueprint = area.bp
        app.register_blueprint(blueprint)
        if module in ("tickets.api", "channels.webhooks", "complaints.webhooks", "integrations.api"):
            csrf.exempt(blueprint)  # authenticated by API key / Twilio signature instead
        if module == "surveys.views":
            # Its CSRF value is checked against the invitation instead (no session); the
            # staff hooks do not run there at all (Huifang.customer_blueprints).
            csrf.exempt(area.answer)
    register_commands(app)
    from surveys.front import SurveyFront
    app.wsgi_app = SurveyFront(app, app.wsgi_app)  # outermost: a survey link's first visit

    @app.template_filter("local")
    def local_time(value, tz: str | None = None, fmt: str = "%Y-%m-%d %H:%M"):
        return to_local(value, tz).strftime(fmt) if value else ""

    @app.template_filter("mask")
    def mask(value: str | None) -> str:
        """Phone numbers and e-mail addresses in lists: enough to recognise, not to use."""
        from tickets.models import mask_contact
        return mask_contact(value)

    app.jinja_env.globals["utcnow"] = utcnow
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Once per process, when its first app is built: the imported modules and the app (~140,000
    objects that live as long as the process) leave the garbage collector's generations. A full
    collection walks every object in them: 70-120 ms in the middle of whichever request set it
    off, most often a dashboard's first view of a scope (the view that allocates most)."""
    if gc.get_freeze_count():
        return  # later apps (tests build many) are not frozen: their garbage must stay collectable
    gc.collect()  # the garbage of start-up is freed, not frozen
    gc.freeze()
