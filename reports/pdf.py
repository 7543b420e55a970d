"""The management report as PDF: an HTML/CSS template rendered by WeasyPrint."""
from __future__ import annotations

from typing import Any

from flask import render_template

from core.db import utcnow
from core.i18n import in_locale
from reports.present import present


def render_html(report: dict[str, Any], locale: str) -> str:
    view = present(report, locale)
    with in_locale(locale):
        return render_template("reports/report_pdf.html", r=report, v=view, locale=locale,
                               generated=utcnow())


def render_pdf(report: dict[str, Any], locale: str = "zh-CN") -> bytes:
    from weasyprint import HTML

    return HTML(string=render_html(report, locale)).write_pdf()
