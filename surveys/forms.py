"""WTForms for one page of a questionnaire, built from its definition."""
from __future__ import annotations

import functools
from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectMultipleField, TextAreaField, widgets

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


def checked_answer(question: Question, raw: Any) -> tuple[Any, AnswerError | None]:
    """A submitted value checked with the question's own parser, so the web, SMS, voice and CSV
    import accept exactly the same values: (the value, None) or (None, what is wrong). The
    message is made (error_text) only for a page shown again: a submit checked in front of
    Flask (surveys/front.py) has no language to make it in."""
    try:
        value = question.parse(raw)
    except AnswerError as exc:
        return None, exc
    if value is None and question.required:
        return None, AnswerError("required")
    return value, None


def submitted_raw(question: Question, formdata, saved: dict[str, Any]) -> Any:
    """What the page's form field holds after a submit (WTForms' rules, without building the
    form): the boxes ticked of a multiple choice (none when none is sent); otherwise the
    first value sent, or else the saved answer the page was prefilled with."""
    if question.type == "multi":
        return formdata.getlist(question.key)
    if question.key in formdata:
        return formdata[question.key]
    return str(saved[question.key]) if question.key in saved else None


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _field(question: Question, locale: str) -> Field:
    label = question.label(locale)
    if question.type == "text":
        return TextAreaField(label, render_kw={"maxlength": TEXT_MAX, "rows": 4})
    if question.type == "multi":
        return MultiCheckboxField(label, choices=question.options(locale), validate_choice=False)
    return RadioField(label, choices=question.options(locale), validate_choice=False)


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


class PageAnswers:
    """One page of questions whose skip logic may depend on answers on the same page.

    The page holds every question that is visible now or that an answer on it may reveal;
    the hidden ones carry their condition so a small script (static/survey.js) reveals them as
    the customer answers. Each revealable question sends an `offered` field while it is shown.
    Without JavaScript, a submit that makes a not yet offered question visible comes back with
    it shown instead of moving on, so a follow-up is never skipped unseen.

    A submit is checked with the questions' own parsing; the WTForms form is built only when
    the page is shown (a first visit, or a submit that comes back with errors or a revealed
    question): building it cost more than the rest of checking an answer."""

    def __init__(self, definition: Definition, questions: list[Question], locale: str,
                 saved: dict[str, Any], formdata=None, meta: dict | None = None):
        self.definition, self.locale, self.saved = definition, locale, saved
        self.formdata, self.meta = formdata, meta
        self.dependent = definition.dependents(questions)
        visible = {q.key for q in definition.visible(saved)}
        self.questions = [q for q in questions if q.key in visible or q.key in self.dependent]
        self.shown = {q.key for q in self.questions if q.key in visible}
        self.revealed: list[str] = []
        self.values: dict[str, Any] = {}  # the submitted answers that parse (None: not answered)
        self.errors: dict[str, AnswerError] = {}  # question key -> what is wrong, for the questions shown

    @functools.cached_property
    def form(self) -> FlaskForm:
        """The page's fields, prefilled with the saved answers or what was submitted, with the
        errors of the submit."""
        form = page_form(self.questions, self.locale, self.saved, formdata=self.formdata, meta=self.meta)
        for key, error in self.errors.items():
            form[key].errors = [error_text(error)]
        return form

    def logic(self) -> dict[str, Any]:
        """What the script needs to decide visibility like condition_holds does."""
        own = {q.key for q in self.questions}
        conditions = {q.key: q.show_if for q in self.questions if q.key in self.dependent}
        known = {k for cond in conditions.values() for k in condition_keys(cond) if k not in own}
        return {"order": [q.key for q in self.questions], "conditions": conditions,
                "numeric": [q.key for q in self.questions if q.numeric],
                "answers": {k: v for k, v in self.saved.items() if k in known}}

    def submit(self, offered: list[str]) -> bool:
        """Checks the submit (`formdata`); True when it can be saved. Sets `shown`, `revealed`
        and `errors`."""
        checked = {q.key: checked_answer(q, submitted_raw(q, self.formdata, self.saved)) for q in self.questions}
        self.values = {key: value for key, (value, _error) in checked.items()}
        merged = {k: v for k, v in self.saved.items() if k not in self.values}
        merged.update({k: v for k, v in self.values.items() if v is not None})
        # Shown when the page was rendered, or answered, means seen too (a client that does
        # not send the hidden `offered` fields)
        seen = set(offered) | self.shown | {k for k, v in self.values.items() if v is not None}
        visible = {q.key for q in self.definition.visible(merged)}
        self.shown = {q.key for q in self.questions if q.key in visible}
        self.revealed = [q.key for q in self.questions
                         if q.key in self.shown and q.key in self.dependent and q.key not in seen]
        # only what the customer could see and answer is checked
        self.errors = {key: error for key, (_value, error) in checked.items()
                       if error and key in self.shown and key not in self.revealed}
        return not self.revealed and not self.errors

    def answers(self) -> dict[str, Any]:
        """The answers to store: those shown, and None (remove) for the hidden ones."""
        return {q.key: self.values.get(q.key) if q.key in self.shown else None for q in self.questions}
