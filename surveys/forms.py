"""WTForms for one page of a questionnaire, built from its definition."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectMultipleField, TextAreaField, widgets
from wtforms.validators import ValidationError

from surveys.definition import TEXT_MAX, AnswerError, Definition, Question, condition_keys


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


class PageAnswers:
    """One page of questions whose skip logic may depend on answers on the same page.

    The page holds every question that is visible now or that an answer on it may reveal;
    the hidden ones carry their condition so a small script (static/survey.js) reveals them as
    the customer answers. Each revealable question sends an `offered` field while it is shown.
    Without JavaScript, a submit that makes a not yet offered question visible comes back with
    it shown instead of moving on, so a follow-up is never skipped unseen."""

    def __init__(self, definition: Definition, questions: list[Question], locale: str,
                 saved: dict[str, Any], formdata=None, meta: dict | None = None):
        self.definition = definition
        self.saved = saved
        self.dependent = definition.dependents(questions)
        visible = {q.key for q in definition.visible(saved)}
        self.questions = [q for q in questions if q.key in visible or q.key in self.dependent]
        self.shown = {q.key for q in self.questions if q.key in visible}
        self.form = page_form(self.questions, locale, saved, formdata=formdata, meta=meta)
        self.revealed: list[str] = []

    def logic(self) -> dict[str, Any]:
        """What the script needs to decide visibility like condition_holds does."""
        own = {q.key for q in self.questions}
        conditions = {q.key: q.show_if for q in self.questions if q.key in self.dependent}
        known = {k for cond in conditions.values() for k in condition_keys(cond) if k not in own}
        return {"order": [q.key for q in self.questions], "conditions": conditions,
                "numeric": [q.key for q in self.questions if q.numeric],
                "answers": {k: v for k, v in self.saved.items() if k in known}}

    def submit(self, offered: list[str]) -> bool:
        """Validates a submit; True when it can be saved. Sets `shown` and `revealed`."""
        self.form.validate()
        values = {q.key: getattr(self.form[q.key], "parsed", None) for q in self.questions}
        merged = {k: v for k, v in self.saved.items() if k not in values}
        merged.update({k: v for k, v in values.items() if v is not None})
        # Shown when the page was rendered, or answered, means seen too (a client that does
        # not send the hidden `offered` fields)
        seen = set(offered) | self.shown | {k for k, v in values.items() if v is not None}
        visible = {q.key for q in self.definition.visible(merged)}
        self.shown = {q.key for q in self.questions if q.key in visible}
        self.revealed = [q.key for q in self.questions
                         if q.key in self.shown and q.key in self.dependent and q.key not in seen]
        for q in self.questions:  # only what the customer could see and answer is checked
            if q.key not in self.shown or q.key in self.revealed:
                self.form[q.key].errors = []
        csrf = getattr(self.form, "csrf_token", None)
        if csrf is not None and csrf.errors:
            return False
        return not self.revealed and not any(self.form[k].errors for k in self.shown)

    def answers(self) -> dict[str, Any]:
        """The answers to store: those shown, and None (remove) for the hidden ones."""
        return {q.key: getattr(self.form[q.key], "parsed", None) if q.key in self.shown else None
                for q in self.questions}
