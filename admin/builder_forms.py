"""The questionnaire builder's forms, and the two plain conversions between a definition
(the data a version stores) and what the forms show. No JavaScript is needed: a question is
added with "Add a question", reordered by its order number, removed with its checkbox."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from surveys.definition import MEASURES

TYPE_LABELS = {"rating": _l("Rating 1–5"), "scale": _l("Scale 0–10"), "yesno": _l("Yes / no"),
               "choice": _l("One choice"), "multi": _l("Several choices"), "text": _l("Free text")}
MEASURE_LABELS = {"overall": _l("Overall satisfaction"), "attitude": _l("Service attitude"),
                  "efficiency": _l("Handling efficiency"), "stability": _l("Network stability"),
                  "after_sales": _l("After-sales service"), "nps": _l("Likelihood to recommend (NPS)"),
                  "resolved": _l("Problem solved"), "callback": _l("Wants a callback")}
assert set(MEASURE_LABELS) == set(MEASURES)


class QuestionForm(Form):
    """One question; a row left without a key is ignored (the blank row adds a question)."""
    position = IntegerField(_l("Order"), validators=[Optional(), NumberRange(0, 999)])
    key = StringField(_l("Key"), validators=[Optional(), Length(max=64), Regexp(
        r"^[a-z_][a-z0-9_]*$", message=_l("lower-case letters, digits and _, starting with a letter"))])
    type = SelectField(_l("Type"), choices=list(TYPE_LABELS.items()))
    page = IntegerField(_l("Page"), default=1, validators=[Optional(), NumberRange(1, 100)])
    required = BooleanField(_l("Required"))
    text_zh = StringField(_l("Question (Chinese)"), validators=[Length(max=500)])
    text_en = StringField(_l("Question (English)"), validators=[Length(max=500)])
    choices = TextAreaField(_l("Choices, one per line: value = 中文 / English"),
                            validators=[Length(max=4000)], render_kw={"rows": 3})
    low_zh = StringField(_l("Lowest number means (Chinese)"), validators=[Length(max=60)])
    low_en = StringField(_l("Lowest number means (English)"), validators=[Length(max=60)])
    high_zh = StringField(_l("Highest number means (Chinese)"), validators=[Length(max=60)])
    high_en = StringField(_l("Highest number means (English)"), validators=[Length(max=60)])
    show_if = StringField(_l("Ask only if"), validators=[Length(max=500)],
                          render_kw={"placeholder": "resolved == no   |   any: overall <= 3; resolved == no"})
    dimension = SelectField(_l("Counts in the report as"),
                            choices=[("", _l("— nothing —"))] + list(MEASURE_LABELS.items()))
    remove = BooleanField(_l("Remove this question"))


class BuilderForm(FlaskForm):
    key = StringField(_l("Questionnaire key"), validators=[DataRequired(), Length(max=64), Regexp(
        r"^[a-z0-9][a-z0-9_-]*$", message=_l("lower-case letters, digits, - and _"))])
    title_zh = StringField(_l("Title (Chinese)"), validators=[DataRequired(), Length(max=200)])
    title_en = StringField(_l("Title (English)"), validators=[DataRequired(), Length(max=200)])
    intro_zh = TextAreaField(_l("Introduction (Chinese)"), validators=[Length(max=1000)], render_kw={"rows": 2})
    intro_en = TextAreaField(_l("Introduction (English)"), validators=[Length(max=1000)], render_kw={"rows": 2})
    sms_mode = SelectField(_l("By SMS"), choices=[("conversation", _l("one question per message")),
                                                  ("link", _l("send the web link"))])
    questions = FieldList(FormField(QuestionForm), min_entries=1, max_entries=60)
    add = SubmitField(_l("Add a question"))
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save as a new draft version"))
    publish = SubmitField(_l("Save and publish"))


def condition_text(cond: Any) -> str:
    """A show_if as the builder writes it: \"resolved == no\" or \"any: a; b\"."""
    if isinstance(cond, dict):
        kind = "all" if "all" in cond else "any"
        return f"{kind}: " + "; ".join(str(part) for part in cond[kind])
    return "" if cond is None else str(cond)


def _condition(text: str) -> Any:
    """"resolved == no", or "any: a; b" / "all: a; b" for a compound condition."""
    text = (text or "").strip()
    for kind in ("any", "all"):
        if text.lower().startswith(f"{kind}:"):
            return {kind: [part.strip() for part in text[len(kind) + 1:].split(";") if part.strip()]}
    return text or None


def _choices_text(choices: list[dict]) -> str:
    return "\n".join(f"{c['value']} = {c.get('text', {}).get('zh-CN', '')} / {c.get('text', {}).get('en', '')}"
                     for c in choices)


def _choices(text: str) -> list[dict]:
    found = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        value, _, labels = line.partition("=")
        zh, _, en = labels.partition("/")
        texts = {k: v.strip() for k, v in (("zh-CN", zh), ("en", en)) if v.strip()}
        found.append({"value": value.strip(), "text": texts or value.strip()})
    return found


def form_data(raw: dict[str, Any]) -> dict[str, Any]:
    """A stored definition as the builder form's data."""
    def text(texts: Any, locale: str) -> str:
        return texts.get(locale, "") if isinstance(texts, dict) else str(texts or "")

    questions = []
    for i, q in enumerate(raw.get("questions", []), 1):
        ends = q.get("labels") or {}
        questions.append({
            "position": i * 10, "key": q["key"], "type": q["type"], "page": q.get("page", 1),
            "required": bool(q.get("required")), "text_zh": text(q.get("text"), "zh-CN"),
            "text_en": text(q.get("text"), "en"), "choices": _choices_text(q.get("choices") or []),
            "low_zh": text(ends.get("low"), "zh-CN"), "low_en": text(ends.get("low"), "en"),
            "high_zh": text(ends.get("high"), "zh-CN"), "high_en": text(ends.get("high"), "en"),
            "show_if": condition_text(q.get("show_if")), "dimension": q.get("dimension") or ""})
    return {"key": raw.get("key", ""), "title_zh": text(raw.get("title"), "zh-CN"),
            "title_en": text(raw.get("title"), "en"), "intro_zh": text(raw.get("intro"), "zh-CN"),
            "intro_en": text(raw.get("intro"), "en"), "sms_mode": raw.get("sms_mode", "conversation"),
            "questions": questions}


def _texts(zh: str, en: str) -> dict[str, str]:
    return {k: v.strip() for k, v in (("zh-CN", zh or ""), ("en", en or "")) if v and v.strip()}


def definition_from(form: BuilderForm, weights: dict[str, Any]) -> dict[str, Any]:
    """The definition the form describes, in the order of the questions' order numbers;
    parse_definition then checks it like any YAML import."""
    rows = [row.form for row in form.questions if (row.form.key.data or "").strip() and not row.form.remove.data]
    rows.sort(key=lambda row: row.position.data if row.position.data is not None else 10_000)
    questions = []
    for row in rows:
        q: dict[str, Any] = {"key": row.key.data.strip(), "type": row.type.data, "page": row.page.data or 1,
                             "text": _texts(row.text_zh.data, row.text_en.data)}
        if row.required.data:
            q["required"] = True
        if row.type.data in ("choice", "multi"):
            q["choices"] = _choices(row.choices.data)
        low, high = _texts(row.low_zh.data, row.low_en.data), _texts(row.high_zh.data, row.high_en.data)
        if row.type.data in ("rating", "scale") and (low or high):
            q["labels"] = {"low": low, "high": high}
        if _condition(row.show_if.data) is not None:
            q["show_if"] = _condition(row.show_if.data)
        if row.dimension.data:
            q["dimension"] = row.dimension.data
        questions.append(q)
    raw = {"key": form.key.data.strip(), "title": _texts(form.title_zh.data, form.title_en.data),
           "sms_mode": form.sms_mode.data, "weights": weights, "questions": questions}
    if _texts(form.intro_zh.data, form.intro_en.data):
        raw["intro"] = _texts(form.intro_zh.data, form.intro_en.data)
    return raw
