"""Management dashboard and the report archive."""
from __future__ import annotations

from flask import Blueprint, render_template

from core.auth import role_required

bp = Blueprint("reports", __name__)


@bp.route("/dashboard")
@role_required("manager")
def dashboard():
    return render_template("reports/dashboard.html")


@bp.route("/reports")
@role_required("manager")
def archive():
    return render_template("reports/archive.html")
