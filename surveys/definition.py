"""Questionnaire definitions: validation, skip logic, texts and answer parsing.

A definition is plain data (YAML on disk, JSON in the database). This module never touches
the database, so every rule here is testable on its own."""
from __future__ import annotations

import hashlib
import json
import operator
import re
from dataclasses import dataclass
from typing import Any

from core.text import strip_control

QUESTION_TYPES = ("rating", "scale", "yesno", "choice", "multi", "text")
LOCALES = ("zh-CN", "en")
TEXT_MAX = 2000

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
        "==": operator.eq, "!=": operator.ne}
_CONDITION = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


class DefinitionError(ValueError):
    pass


class AnswerError(ValueError):
    """A value a question does not accept; the message is shown next to the field."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Question:
    key: str
    type: str
    text: dict[str, str]
    page: int = 1
    required: bool = False
    choices: tuple[tuple[str, dict[str, str]], ...] = ()
    show_if: Any = None

    def label(self, locale: str) -> str:
        return self.text.get(locale) or self.text.get("en") or next(iter(self.text.values()))

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

    def visible(self, answers: dict[str, Any]) -> list[Question]:
        return [q for q in self.questions if condition_holds(q.show_if, answers)]

    def next_unanswered(self, answers: dict[str, Any], skipped: set[str] = frozenset()) -> Question | None:
        """The next question to ask one at a time (SMS, voice), in order, honouring skip logic."""
        for q in self.visible(answers):
            if q.key not in answers and q.key not in skipped:
                return q
        return None

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
        raise DefinitionError(f"cannot read condition {cond!r}: write it as 'key <= 3'")
    return match.group(1), match.group(2), match.group(3)


def _condition_keys(cond: Any) -> list[str]:
    if cond is None:
        return []
    if isinstance(cond, dict):
        parts = cond.get("all", cond.get("any"))
        if not isinstance(parts, list) or len(cond) != 1:
            raise DefinitionError("a compound condition is {all: [...]} or {any: [...]}")
        return [k for c in parts for k in _condition_keys(c)]
    return [_split_condition(cond)[0]]


def _texts(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict) or not value or not all(isinstance(v, str) for v in value.values()):
        raise DefinitionError(f"{where}: give the text per locale, e.g. {{zh-CN: ..., en: ...}}")
    unknown = set(value) - set(LOCALES)
    if unknown:
        raise DefinitionError(f"{where}: unknown locale(s) {sorted(unknown)}")
    return dict(value)


def parse_definition(raw: dict[str, Any]) -> Definition:
    """Validates a definition and returns it; every mistake names the question it is in."""
    if not isinstance(raw, dict):
        raise DefinitionError("a questionnaire is a mapping with key, title and questions")
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
        where = f"question {i} ({qkey})"
        if not isinstance(qkey, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", qkey):
            raise DefinitionError(f"{where}: key must be lower_snake_case")
        if qkey in seen:
            raise DefinitionError(f"{where}: duplicate key")
        qtype = item.get("type")
        if qtype not in QUESTION_TYPES:
            raise DefinitionError(f"{where}: type must be one of {', '.join(QUESTION_TYPES)}")
        choices = ()
        if qtype in ("choice", "multi"):
            opts = item.get("choices")
            if not isinstance(opts, list) or not opts:
                raise DefinitionError(f"{where}: choices are required for {qtype}")
            choices = tuple((str(o["value"]), _texts(o.get("text", str(o["value"])), where)) for o in opts)
        for dep in _condition_keys(item.get("show_if")):
            if dep not in seen:
                raise DefinitionError(f"{where}: show_if refers to {dep!r}, which is not an earlier question")
        page = item.get("page", 1)
        if not isinstance(page, int) or page < 1:
            raise DefinitionError(f"{where}: page must be a positive whole number")
        questions.append(Question(key=qkey, type=qtype, text=_texts(item.get("text"), where),
                                  page=page, required=bool(item.get("required", False)),
                                  choices=choices, show_if=item.get("show_if")))
        seen.add(qkey)
    weights = raw.get("weights") or {}
    if not isinstance(weights, dict) or any(not isinstance(w, int | float) or w < 0 for w in weights.values()):
        raise DefinitionError("weights: a mapping of dimension key to a non-negative number")
    sms_mode = raw.get("sms_mode", "link")
    if sms_mode not in ("link", "conversation"):
        raise DefinitionError("sms_mode: link or conversation")
    return Definition(key=key, title=_texts(raw.get("title", key), "title"),
                      intro=_texts(raw.get("intro", {"en": ""}), "intro"),
                      questions=tuple(questions), weights={k: float(v) for k, v in weights.items()},
                      sms_mode=sms_mode, raw=raw)
