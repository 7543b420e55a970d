"""WTForms for one page of a questionnaire, built from its definition."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectMultipleField, TextAreaField, widgets
from wtforms.validators import ValidationError

from surveys.definition import TEXT_MAX, AnswerError, Question


def error_text(error: AnswerError) -> str:
    """The message a customer reads next to a rejected answer, in their language."""
    p = error.params
    if error.code == "required":
        return _("Please answer this question.")
    if error.code == "range":
        return _("Please choose a number from %(low)s to %(high)s.", low=p["low"], high=p["high"])
    if error.code == "yesno":
        return _("Please answer yes or no.")
    if error.code == "choice":
        return _("Please choose one of the options.")
    if error.code == "length":
        return _("Please keep it under %(max)s characters.", max=p["max"])
    return _("This answer is not valid.")


class _Answer:
    """Checks a field with the question's own parser, so the web, SMS, voice and CSV import
    accept exactly the same values."""

    def __init__(self, question: Question):
        self.question = question

    def __call__(self, form: FlaskForm, field: Field) -> None:
        try:
            value = self.question.parse(field.data)
        except AnswerError as exc:
            raise ValidationError(error_text(exc)) from exc
        if value is None and self.question.required:
            raise ValidationError(error_text(AnswerError("required")))
        field.parsed = value


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _field(question: Question, locale: str) -> Field:
    label = question.label(locale)
    validators = [_Answer(question)]
    if question.type == "text":
        return TextAreaField(label, validators=validators,
                             render_kw={"maxlength": TEXT_MAX, "rows": 4})
    if question.type == "multi":
        return MultiCheckboxField(label, choices=question.options(locale), validators=validators,
                                  validate_choice=False)
    return RadioField(label, choices=question.options(locale), validators=validators,
                      validate_choice=False)


def page_form(questions: list[Question], locale: str, answers: dict[str, Any], formdata=None,
              meta: dict | None = None) -> FlaskForm:
    """A form with one field per visible question of the page, prefilled with saved answers."""

    class PageForm(FlaskForm):
        pass

    for q in questions:
        setattr(PageForm, q.key, _field(q, locale))
    data = {}
    for q in questions:
        if q.key in answers:
            saved = answers[q.key]
            data[q.key] = saved.split(",") if q.type == "multi" else str(saved)
    return PageForm(formdata=formdata, data=data, meta=meta or {})


def parsed_answers(form: FlaskForm, questions: list[Question]) -> dict[str, Any]:
    return {q.key: getattr(form[q.key], "parsed", None) for q in questions}
