"""zh-CN and English: Flask-Babel for the interface, locale codes shared with the data."""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g, has_request_context, request, session
from flask_babel import Babel, force_locale

SUPPORTED = ("zh-CN", "en")
STAFF_LOCALE = "zh-CN"  # what staff notifications (escalations, scheduled reports) are written in
babel = Babel()


def babel_code(locale: str) -> str:
    return locale.replace("-", "_")


def current_locale() -> str:
    """The data-side code (zh-CN | en) of the page being rendered."""
    if getattr(g, "locale", None) in SUPPORTED:
        return g.locale
    if not has_request_context():
        return "zh-CN"
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in SUPPORTED:
        return chosen
    best = request.accept_languages.best_match(["zh", "en"]) if request else None
    return "en" if best == "en" else "zh-CN"


def select_locale() -> str:
    return babel_code(current_locale())


def compile_catalogs(directory: Path) -> None:
    """Compiles each messages.po whose .mo is missing or older, so a fresh clone needs no
    separate build step for translations."""
    for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po:
            catalog = read_po(po)
        with mo_path.open("wb") as mo:
            write_mo(mo, catalog)


@functools.cache
def _babel_locale(locale: str) -> Locale:
    # Locale.parse of a string scans babel's locale list: hot when rendering 100,000 messages.
    return Locale.parse(babel_code(locale))


@contextlib.contextmanager
def in_locale(locale: str) -> Iterator[None]:
    """Renders messages for a customer in their language, inside or outside a request."""
    previous = getattr(g, "locale", None)
    g.locale = locale if locale in SUPPORTED else "zh-CN"
    try:
        with force_locale(_babel_locale(g.locale)):
            yield
    finally:
        g.locale = previous
