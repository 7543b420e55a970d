"""The questionnaire builder: staff add, reorder and edit questions in forms, preview each
channel, and save a new version. Managers save drafts; only admins publish, so what customers
get is always an admin's decision. YAML stays the import (admin page) and the export here."""
from __future__ import annotations

import yaml
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from admin.builder_forms import (
    MEASURE_LABELS,
    TYPE_LABELS,
    BuilderForm,
    condition_text,
    definition_from,
    form_data,
)
from channels.render import sms_prompt
from channels.webhooks import voice_prompt
from core.accounts import audit
from core.auth import role_required
from core.db import db
from core.i18n import current_locale, in_locale
from surveys.definition import Definition, DefinitionError, parse_definition
from surveys.forms import page_form
from surveys.models import Questionnaire, QuestionnaireVersion
from surveys.services import import_questionnaire, newest_version, publish_version

bp = Blueprint("builder", __name__, url_prefix="/questionnaires")


@bp.context_processor
def labels() -> dict:
    return {"TYPE_LABELS": TYPE_LABELS, "MEASURE_LABELS": MEASURE_LABELS, "condition_text": condition_text}


@bp.route("/")
@role_required("manager")
def index():
    items = db.session.scalars(select(Questionnaire).order_by(Questionnaire.key)).all()
    return render_template("admin/builder_list.html", items=items)


def _version(key: str, number: int) -> QuestionnaireVersion:
    version = db.session.scalar(select(QuestionnaireVersion).join(Questionnaire).where(
        Questionnaire.key == key[:64], QuestionnaireVersion.number == number))
    return version if version is not None else abort(404)


@bp.route("/build", methods=["GET", "POST"])
@role_required("manager")
def build():
    """GET ?from=<key> starts from that questionnaire's newest version, else from nothing."""
    base = newest_version(request.args.get("from", "")[:64]) if request.args.get("from") else None
    form = BuilderForm(data=form_data(base.definition) if base and request.method == "GET" else None)
    if request.method == "GET":
        form.questions.append_entry()  # a blank row: fill it in to add a question
        return _builder(form, None)
    if form.add.data:
        form.questions.append_entry()
        return _builder(form, None)
    if not form.validate_on_submit():
        return _builder(form, None), 400
    current = newest_version(form.key.data.strip())
    raw = definition_from(form, (current.definition.get("weights") or {}) if current else {})
    try:
        definition = parse_definition(raw)
    except DefinitionError as exc:
        form.form_errors.append(exc.translated())
        return _builder(form, None), 400
    if form.preview.data:
        return _builder(form, definition)
    if form.publish.data and not current_user.has_role("admin"):
        abort(403)
    version, created = import_questionnaire(raw, publish=bool(form.publish.data), author_id=current_user.id)
    if created:
        audit("questionnaire_version", f"questionnaire:{version.questionnaire.key}", version=version.number,
              published=bool(form.publish.data))
        db.session.commit()
    flash(_("Saved as version %(n)s.", n=version.number) if created else _("Nothing changed."), "success")
    return redirect(url_for(".version", key=version.questionnaire.key, number=version.number)), 303


def _builder(form: BuilderForm, definition: Definition | None):
    return render_template("admin/builder.html", form=form, preview=channel_preview(definition, current_locale())
                           if definition else None)


@bp.route("/<key>/<int:number>")
@role_required("manager")
def version(key: str, number: int):
    version = _version(key, number)
    definition = parse_definition(version.definition)
    locale = request.args.get("lang") if request.args.get("lang") in ("zh-CN", "en") else current_locale()
    return render_template("admin/builder_version.html", version=version, definition=definition,
                           preview=channel_preview(definition, locale), locale=locale)


@bp.route("/<key>/<int:number>.yaml")
@role_required("manager")
def export(key: str, number: int):
    version = _version(key, number)
    text = yaml.safe_dump(version.definition, allow_unicode=True, sort_keys=False)
    return Response(text, mimetype="application/yaml", headers={
        "Content-Disposition": f"attachment; filename={version.questionnaire.key}-v{version.number}.yaml"})


@bp.post("/<key>/<int:number>/publish")
@role_required("admin")
def publish(key: str, number: int):
    version = _version(key, number)
    if version.published_at is None:
        publish_version(version)
        audit("questionnaire_publish", f"questionnaire:{key}", version=number)
        db.session.commit()
    flash(_("Version %(n)s is published: new invitations get it.", n=number), "success")
    return redirect(url_for(".version", key=key, number=number)), 303


def channel_preview(definition: Definition, locale: str) -> dict:
    """What each channel shows or says, question by question: the web pages (rendered with
    the survey's own form), the SMS conversation and the voice script, in `locale`."""
    with in_locale(locale):
        pages = [(page, page_form(definition.on_page(page), locale, {},
                                  meta={"csrf": False}))
                 for page in definition.pages]
        conversation = definition.sms_mode == "conversation"
        sms = [(q, sms_prompt(q, locale)) for q in definition.questions] if conversation else []
        voice = [(q, voice_prompt(q, locale) if q.type != "text" else None) for q in definition.questions]
        return {"locale": locale, "definition": definition, "pages": pages, "sms": sms, "voice": voice,
                "intro": definition.text("intro", locale), "title": definition.text("title", locale),
                "sms_thanks": _("Thank you for your feedback! Your answers have been recorded."),
                "voice_thanks": _("Thank you for your feedback. Goodbye.")}
