"""Questionnaire definitions: validation, skip logic, texts and answer parsing.

A definition is plain data (YAML on disk, JSON in the database). This module never touches
the database, so every rule here is testable on its own."""
from __future__ import annotations

import functools
import hashlib
import json
import math
import operator
import re
from dataclasses import dataclass
from typing import Any

import yaml

from core.text import strip_control

QUESTION_TYPES = ("rating", "scale", "yesno", "choice", "multi", "text")
DIMENSIONS = ("attitude", "efficiency", "stability", "after_sales")
# What reports measure, and the question type that can measure it. A question maps onto one
# with `dimension:`; without it, a question named like the measure does (telecom-default).
MEASURES = {"overall": "rating", **{d: "rating" for d in DIMENSIONS}, "nps": "scale",
            "resolved": "yesno", "callback": "yesno"}
LOCALES = ("zh-CN", "en")
TEXT_MAX = 2000

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
        "==": operator.eq, "!=": operator.ne}
_CONDITION = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


class Phrase:
    """Text a questionnaire's author reads: an English message and its parameters, put into the
    reader's language only where it is shown. str() stays English (the CLI, logs); parameters
    that are phrases themselves ("question 3 (nps)") are translated with the message."""

    def __init__(self, message: str, **params: Any):
        self.message, self.params = message, params

    def __str__(self) -> str:
        return self.message % {k: str(v) for k, v in self.params.items()} if self.params else self.message

    def translated(self) -> str:
        from flask_babel import gettext
        return gettext(self.message, **{k: v.translated() if isinstance(v, Phrase) else v
                                        for k, v in self.params.items()})


class DefinitionError(ValueError):
    """A mistake in a questionnaire; `translated()` says it in the language of the page."""

    def __init__(self, message: str, **params: Any):
        self.phrase = Phrase(message, **params)
        super().__init__(str(self.phrase))

    def translated(self) -> str:
        return self.phrase.translated()


YAML_MAX = 200_000  # characters: a questionnaire is a few kilobytes


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader without aliases: `*name` can multiply a small file into gigabytes of nodes
    (the "billion laughs"), and a questionnaire has no use for them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            line = self.peek_event().start_mark.line + 1
            raise DefinitionError("line %(line)s: YAML aliases (*name) are not accepted in a questionnaire", line=line)
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """A questionnaire's YAML as plain data; every problem is a DefinitionError."""
    if len(text) > YAML_MAX:
        raise DefinitionError("the YAML is longer than %(max)s characters", max=YAML_MAX)
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is None:
            raise DefinitionError("not valid YAML") from exc
        # PyYAML's own wording is English only: the place is what the author needs.
        raise DefinitionError("line %(line)s, column %(column)s: not valid YAML", line=mark.line + 1,
                              column=mark.column + 1) from exc
    except RecursionError as exc:
        raise DefinitionError("the YAML is nested too deeply") from exc


class AnswerError(ValueError):
    """A value a question does not accept; the message is shown next to the field."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


def _in(texts: dict[str, str], locale: str) -> str:
    return texts.get(locale) or texts.get("en") or next(iter(texts.values()))


@dataclass(frozen=True)
class Question:
    key: str
    type: str
    text: dict[str, str]
    page: int = 1
    required: bool = False
    choices: tuple[tuple[str, dict[str, str]], ...] = ()
    show_if: Any = None
    dimension: str | None = None
    ends: tuple[dict[str, str], dict[str, str]] | None = None  # what the lowest and highest number mean

    def label(self, locale: str) -> str:
        """The question as every channel asks it; a scale says what its ends mean."""
        text = _in(self.text, locale)
        if self.ends:
            low, high = self.bounds
            ends = f"{low} = {_in(self.ends[0], locale)}, {high} = {_in(self.ends[1], locale)}"
            text += f"({ends.replace(', ', ',')})" if locale == "zh-CN" else f" ({ends})"
        return text

    @property
    def numeric(self) -> bool:
        return self.type in ("rating", "scale")

    @property
    def bounds(self) -> tuple[int, int]:
        return (1, 5) if self.type == "rating" else (0, 10)

    def options(self, locale: str) -> list[tuple[str, str]]:
        """(value, label) pairs for the closed question types."""
        if self.numeric:
            low, high = self.bounds
            return [(str(v), str(v)) for v in range(low, high + 1)]
        if self.type == "yesno":
            return [("yes", "是" if locale == "zh-CN" else "Yes"),
                    ("no", "否" if locale == "zh-CN" else "No")]
        return [(value, text.get(locale) or text.get("en", value)) for value, text in self.choices]

    def parse(self, raw: Any) -> Any:
        """A raw value (form field, SMS text, keypad digit, CSV cell) to the stored value.
        None means "not answered"; a bad value raises AnswerError."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if self.type == "multi":
            values = raw if isinstance(raw, list) else [v.strip() for v in str(raw).split(",")]
            allowed = {v for v, _ in self.choices}
            if not values or any(v not in allowed for v in values):
                raise AnswerError("choice")
            return ",".join(values)
        text = str(raw).strip()
        if self.numeric:
            low, high = self.bounds
            if not re.fullmatch(r"\d{1,2}", text) or not low <= int(text) <= high:
                raise AnswerError("range", low=low, high=high)
            return int(text)
        if self.type == "yesno":
            lowered = text.lower()
            if lowered in ("yes", "y", "1", "是", "true"):
                return "yes"
            if lowered in ("no", "n", "2", "0", "否", "false"):
                return "no"
            raise AnswerError("yesno")
        if self.type == "choice":
            if text not in {v for v, _ in self.choices}:
                raise AnswerError("choice")
            return text
        text = strip_control(text).strip()
        if len(text) > TEXT_MAX:
            raise AnswerError("length", max=TEXT_MAX)
        return text or None


@dataclass(frozen=True)
class Definition:
    key: str
    title: dict[str, str]
    intro: dict[str, str]
    questions: tuple[Question, ...]
    weights: dict[str, float]
    sms_mode: str
    raw: dict[str, Any]

    def question(self, key: str) -> Question:
        for q in self.questions:
            if q.key == key:
                return q
        raise KeyError(key)

    @property
    def pages(self) -> list[int]:
        return sorted({q.page for q in self.questions})

    def on_page(self, page: int) -> list[Question]:
        """The questions of web page `page`, in order, shown or not."""
        return [q for q in self.questions if q.page == page]

    @functools.cached_property
    def first_page(self) -> int:
        """The page a survey starts on: the first with a question shown before any answer (the
        first question has no condition, so there is one). Once per definition: the cached
        definitions serve every first visit."""
        return min(q.page for q in self.visible({}))

    def visible(self, answers: dict[str, Any]) -> list[Question]:
        """The questions skip logic shows, in order. An answer to a hidden question counts as
        no answer, so a follow-up of a hidden follow-up is hidden too."""
        effective = dict(answers)
        shown = []
        for q in self.questions:
            if condition_holds(q.show_if, effective):
                shown.append(q)
            else:
                effective.pop(q.key, None)
        return shown

    def dependents(self, questions: list[Question]) -> set[str]:
        """Keys of those `questions` whose skip logic depends (maybe through another one) on
        an answer among them: a page must be able to reveal or hide them as answers change."""
        keys = {q.key for q in questions}
        found: set[str] = set()
        for q in questions:  # conditions refer to earlier questions only, so one pass is enough
            if any(dep in keys for dep in condition_keys(q.show_if)):
                found.add(q.key)
        return found

    def next_unanswered(self, answers: dict[str, Any], skipped: set[str] = frozenset()) -> Question | None:
        """The next question to ask one at a time (SMS, voice), in order, honouring skip logic."""
        for q in self.visible(answers):
            if q.key not in answers and q.key not in skipped:
                return q
        return None

    def measures(self) -> dict[str, str]:
        """Measure (overall, nps, resolved, callback, each dimension) -> the question key
        answering it in this questionnaire; the report helper for any questionnaire."""
        found = {q.dimension: q.key for q in self.questions if q.dimension}
        for q in self.questions:
            if q.key in MEASURES and q.key not in found and MEASURES[q.key] == q.type \
                    and q.key not in found.values():
                found[q.key] = q.key
        return found

    def measured(self, answers: dict[str, Any]) -> dict[str, Any]:
        """Answers keyed by measure instead of question key."""
        return {measure: answers.get(key) for measure, key in self.measures().items()}

    def text(self, field: str, locale: str) -> str:
        texts = getattr(self, field)
        return texts.get(locale) or texts.get("en", "")

    def checksum(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def condition_holds(cond: Any, answers: dict[str, Any]) -> bool:
    """Skip logic: "key op value", {"all": [...]}, {"any": [...]}. A condition on an
    unanswered question is false, so a follow-up is not asked before its trigger."""
    if cond is None:
        return True
    if isinstance(cond, dict):
        if "all" in cond:
            return all(condition_holds(c, answers) for c in cond["all"])
        return any(condition_holds(c, answers) for c in cond["any"])
    key, op, expected = _split_condition(cond)
    actual = answers.get(key)
    if actual is None:
        return False
    if isinstance(actual, int | float):
        try:
            return _OPS[op](actual, float(expected))
        except ValueError:
            return False
    return _OPS[op](str(actual), expected) if op in ("==", "!=") else False


def _split_condition(cond: str) -> tuple[str, str, str]:
    match = _CONDITION.match(str(cond))
    if not match:
        raise DefinitionError("cannot read condition %(condition)s: write it as 'key <= 3'", condition=repr(cond))
    return match.group(1), match.group(2), match.group(3)


def condition_keys(cond: Any) -> list[str]:
    if cond is None:
        return []
    if isinstance(cond, dict):
        parts = cond.get("all", cond.get("any"))
        if not isinstance(parts, list) or len(cond) != 1:
            raise DefinitionError("a compound condition is {all: [...]} or {any: [...]}")
        return [k for c in parts for k in condition_keys(c)]
    return [_split_condition(cond)[0]]


def _dimension(item: dict, qtype: str, earlier: list[Question], where: Phrase) -> str | None:
    measure = item.get("dimension")
    if measure in (None, ""):
        return None
    if measure not in MEASURES:
        raise DefinitionError("%(where)s: dimension must be one of %(measures)s", where=where, measures=", ".join(MEASURES))
    if MEASURES[measure] != qtype:
        raise DefinitionError("%(where)s: only a %(type)s question can measure %(measure)s", where=where,
                              type=MEASURES[measure], measure=measure)
    if any(q.dimension == measure for q in earlier):
        raise DefinitionError("%(where)s: another question already measures %(measure)s", where=where, measure=measure)
    return measure


def _ends(item: dict, qtype: str, where: Phrase) -> tuple[dict[str, str], dict[str, str]] | None:
    ends = item.get("labels")
    if ends is None:
        return None
    if qtype not in ("rating", "scale") or not isinstance(ends, dict) or set(ends) != {"low", "high"}:
        raise DefinitionError("%(where)s: labels are {low: ..., high: ...} on a rating or scale question", where=where)
    return _texts(ends["low"], Phrase("%(where)s labels", where=where)), \
        _texts(ends["high"], Phrase("%(where)s labels", where=where))


def _not_json(value: Any, where: str) -> str | None:
    """Where in a definition a value is that JSON cannot store faithfully, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = _not_json(item, f"{where}.{key}".lstrip(".")) if isinstance(key, str) else where or "top"
            if found is not None:
                return found
        return None
    if isinstance(value, list):
        return next((f for i, item in enumerate(value) if (f := _not_json(item, f"{where}[{i}]"))), None)
    if isinstance(value, float) and not math.isfinite(value):
        return where
    return None if value is None or isinstance(value, str | int | float | bool) else where


def _is_weight(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def _check_condition(cond: Any, page: int, earlier: dict[str, Question], where: Phrase) -> None:
    """Refuses skip logic no channel could honour: a condition on a later question (so no
    cycles either), on a question of a later web page (asked after the one it decides), or one
    that can never hold for the type of answer it looks at."""
    if isinstance(cond, dict):
        condition_keys(cond)  # checks the shape
        for part in cond.get("all", cond.get("any")):
            _check_condition(part, page, earlier, where)
        return
    if cond is None:
        return
    key, op, expected = _split_condition(cond)
    trigger = earlier.get(key)
    if trigger is None:
        raise DefinitionError("%(where)s: show_if refers to %(key)s, which is not an earlier question", where=where,
                              key=repr(key))
    if trigger.page > page:
        raise DefinitionError("%(where)s: show_if refers to %(key)s, which is on a later page", where=where, key=repr(key))
    if trigger.numeric:
        if not re.fullmatch(r"-?\d+(\.\d+)?", expected):
            raise DefinitionError("%(where)s: %(key)s is answered with a number; compare it with a number",
                                  where=where, key=repr(key))
        return
    if op not in ("==", "!="):
        raise DefinitionError("%(where)s: %(key)s is not a number; use == or != with it", where=where, key=repr(key))
    allowed = {"yesno": {"yes", "no"}, "choice": {v for v, _ in trigger.choices}}.get(trigger.type)
    if allowed is not None and expected not in allowed:
        raise DefinitionError("%(where)s: %(key)s is never answered %(value)s (its answers: %(answers)s)",
                              where=where, key=repr(key), value=repr(expected), answers=", ".join(sorted(allowed)))
    if trigger.type in ("multi", "text"):
        raise DefinitionError("%(where)s: a condition on %(key)s (%(type)s) cannot be asked the same way on every "
                              "channel; use a yes/no, choice or number question", where=where, key=repr(key),
                              type=trigger.type)


def _texts(value: Any, where: Phrase) -> dict[str, str]:
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict) or not value or not all(isinstance(v, str) for v in value.values()):
        raise DefinitionError("%(where)s: give the text per locale, e.g. {zh-CN: ..., en: ...}", where=where)
    unknown = set(value) - set(LOCALES)
    if unknown:
        raise DefinitionError("%(where)s: unknown locale(s) %(locales)s", where=where, locales=", ".join(sorted(unknown)))
    return dict(value)


def parse_definition(raw: dict[str, Any]) -> Definition:
    """Validates a definition and returns it; every mistake names the question it is in."""
    if not isinstance(raw, dict):
        raise DefinitionError("a questionnaire is a mapping with key, title and questions")
    bad = _not_json(raw, "")
    if bad is not None:  # stored as JSON: dates, NaN and infinity have no place in it
        raise DefinitionError("%(where)s: use only text, finite numbers, true/false, lists and mappings", where=bad)
    key = raw.get("key")
    if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", key):
        raise DefinitionError("key: lower-case letters, digits, - and _")
    items = raw.get("questions")
    if not isinstance(items, list) or not items:
        raise DefinitionError("questions: a non-empty list")
    questions: list[Question] = []
    seen: set[str] = set()
    for i, item in enumerate(items, 1):
        qkey = item.get("key") if isinstance(item, dict) else None
        where = Phrase("question %(n)s (%(key)s)", n=i, key=qkey)
        if not isinstance(qkey, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", qkey):
            raise DefinitionError("%(where)s: key must be lower_snake_case", where=where)
        if qkey in seen:
            raise DefinitionError("%(where)s: duplicate key", where=where)
        qtype = item.get("type")
        if qtype not in QUESTION_TYPES:
            raise DefinitionError("%(where)s: type must be one of %(types)s", where=where, types=", ".join(QUESTION_TYPES))
        choices = ()
        if qtype in ("choice", "multi"):
            opts = item.get("choices")
            if not isinstance(opts, list) or not opts:
                raise DefinitionError("%(where)s: choices are required for %(type)s", where=where, type=qtype)
            if not all(isinstance(o, dict) and "value" in o for o in opts):
                raise DefinitionError("%(where)s: each choice is {value: ..., text: {zh-CN: ..., en: ...}}", where=where)
            choices = tuple((str(o["value"]), _texts(o.get("text", str(o["value"])), where)) for o in opts)
        page = item.get("page", 1)
        if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= 100:
            raise DefinitionError("%(where)s: page must be a whole number from 1 to 100", where=where)
        _check_condition(item.get("show_if"), page, {q.key: q for q in questions}, where)
        questions.append(Question(key=qkey, type=qtype, text=_texts(item.get("text"), where),
                                  page=page, required=bool(item.get("required", False)),
                                  choices=choices, show_if=item.get("show_if"),
                                  dimension=_dimension(item, qtype, questions, where),
                                  ends=_ends(item, qtype, where)))
        seen.add(qkey)
    weights = raw.get("weights") or {}
    if not isinstance(weights, dict) or not all(_is_weight(w) for w in weights.values()):
        raise DefinitionError("weights: a mapping of dimension key to a finite, non-negative number")
    sms_mode = raw.get("sms_mode", "link")
    if sms_mode not in ("link", "conversation"):
        raise DefinitionError("sms_mode: link or conversation")
    return Definition(key=key, title=_texts(raw.get("title", key), Phrase("questionnaire title")),
                      intro=_texts(raw.get("intro", {"en": ""}), Phrase("questionnaire introduction")),
                      questions=tuple(questions), weights={k: float(v) for k, v in weights.items()},
                      sms_mode=sms_mode, raw=raw)
