"""Questionnaires as data: import, validation, versioning, skip logic."""
import copy

import pytest
import yaml
from sqlalchemy import func, select

from core.db import db
from surveys.definition import AnswerError, DefinitionError, condition_holds, parse_definition
from surveys.models import Question, QuestionnaireVersion
from surveys.services import DEFINITIONS_DIR, import_questionnaire, latest_version

DEFAULT = yaml.safe_load((DEFINITIONS_DIR / "telecom-default.yaml").read_text(encoding="utf-8"))
SHIPPED = len(list(DEFINITIONS_DIR.glob("*.yaml")))  # one version of each shipped questionnaire


def versions() -> int:
    return db.session.scalar(select(func.count()).select_from(QuestionnaireVersion))


def test_default_questionnaire_has_the_contract_keys(ctx):
    version = latest_version("telecom-default")
    keys = [q.key for q in version.questions]
    assert keys == ["overall", "attitude", "efficiency", "stability", "after_sales", "nps",
                    "resolved", "callback", "comment"]
    types = {q.key: q.type for q in version.questions}
    assert types["overall"] == "rating" and types["nps"] == "scale" and types["comment"] == "text"
    assert types["resolved"] == types["callback"] == "yesno"


def test_reimporting_unchanged_definition_keeps_the_version(ctx):
    before = latest_version("telecom-default")
    version, created = import_questionnaire(copy.deepcopy(DEFAULT))
    assert not created and version.id == before.id
    assert versions() == SHIPPED


def test_editing_creates_a_new_version_and_leaves_the_old_one_untouched(ctx):
    old = latest_version("telecom-default")
    old_definition = copy.deepcopy(old.definition)
    edited = copy.deepcopy(DEFAULT)
    edited["questions"][0]["text"]["en"] = "Overall, how did we do?"
    version, created = import_questionnaire(edited)
    assert created and version.number == old.number + 1
    db.session.expire_all()
    assert db.session.get(QuestionnaireVersion, old.id).definition == old_definition
    assert db.session.scalar(select(func.count()).select_from(Question)
                             .where(Question.version_id == version.id)) == 9


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["questions"][0].update(type="stars"), "type must be one of"),
    (lambda d: d["questions"].append(dict(d["questions"][0])), "duplicate key"),
    (lambda d: d["questions"][1].update(show_if="comment <= 3"), "not an earlier question"),
    (lambda d: d["questions"][0].update(text={"fr": "Bonjour"}), "unknown locale"),
    (lambda d: d.update(key="Bad Key!"), "key:"),
    (lambda d: d["questions"][1].update(show_if="overall ~ 3"), "cannot read condition"),
])
def test_invalid_definitions_are_refused_with_a_reason(ctx, mutate, message):
    broken = copy.deepcopy(DEFAULT)
    mutate(broken)
    with pytest.raises(DefinitionError, match=message):
        import_questionnaire(broken)
    assert versions() == SHIPPED


def test_skip_logic_conditions():
    assert condition_holds("overall <= 3", {"overall": 2})
    assert not condition_holds("overall <= 3", {"overall": 4})
    assert not condition_holds("overall <= 3", {})  # not asked before its trigger is answered
    assert condition_holds({"any": ["overall <= 3", "resolved == no"]}, {"overall": 5, "resolved": "no"})
    assert not condition_holds({"all": ["overall <= 3", "resolved == no"]}, {"overall": 2, "resolved": "yes"})
    definition = parse_definition(DEFAULT)
    happy = [q.key for q in definition.visible({"overall": 5, "resolved": "yes"})]
    unhappy = [q.key for q in definition.visible({"overall": 2})]
    assert "callback" not in happy and "callback" in unhappy


@pytest.mark.parametrize("key, raw, expected", [
    ("overall", "5", 5), ("overall", " 1 ", 1), ("nps", "10", 10), ("nps", "0", 0),
    ("resolved", "是", "yes"), ("resolved", "NO", "no"), ("comment", "很好", "很好"), ("overall", "", None),
])
def test_answers_are_parsed_per_type(key, raw, expected):
    assert parse_definition(DEFAULT).question(key).parse(raw) == expected


@pytest.mark.parametrize("key, raw", [("overall", "6"), ("overall", "0"), ("overall", "4.5"),
                                      ("nps", "11"), ("nps", "-1"), ("resolved", "maybe"),
                                      ("comment", "x" * 2001)])
def test_out_of_range_answers_are_refused(key, raw):
    with pytest.raises(AnswerError):
        parse_definition(DEFAULT).question(key).parse(raw)


def test_import_questionnaire_command(app, tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump({"key": "short", "title": {"en": "Short", "zh-CN": "简短"},
                                    "questions": [{"key": "overall", "type": "rating", "required": True,
                                                   "text": {"en": "Overall?", "zh-CN": "总体?"}}]},
                                   allow_unicode=True), encoding="utf-8")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["import-questionnaire", str(path)])
    second = runner.invoke(args=["import-questionnaire", str(path)])
    assert "new version 1" in first.output and "unchanged, still version 1" in second.output
    path.write_text("key: short\nquestions: []\n", encoding="utf-8")
    bad = runner.invoke(args=["import-questionnaire", str(path)])
    assert bad.exit_code != 0 and "questions: a non-empty list" in bad.output


# ---- skip logic a channel cannot honour, and hostile YAML (issues 16 and 12) ------------------

def _with(mutate):
    broken = copy.deepcopy(DEFAULT)
    mutate(broken)
    return broken


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["questions"][7].update(show_if="comment == yes"), "not an earlier question"),
    (lambda d: d["questions"][0].update(page=4), "on a later page"),
    (lambda d: d["questions"][7].update(show_if="resolved == maybe"), "never answered 'maybe'"),
    (lambda d: d["questions"][7].update(show_if="resolved <= 3"), "use == or !="),
    (lambda d: d["questions"][7].update(show_if="overall <= low"), "compare it with a number"),
    (lambda d: d["questions"].append({"key": "why", "type": "yesno", "page": 4, "text": {"en": "Why?"},
                                      "show_if": "comment == bad"}), "cannot be asked the same way"),
    (lambda d: d["questions"][7].update(show_if={"any": ["overall <= 3"], "all": []}), "compound condition"),
    (lambda d: d["questions"][2].update(page=True), "page must be a whole number"),
])
def test_skip_logic_no_channel_could_honour_is_refused(ctx, mutate, message):
    with pytest.raises(DefinitionError, match=message):
        import_questionnaire(_with(mutate))
    assert versions() == SHIPPED


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -1, True, "1"])
def test_weights_must_be_finite_non_negative_numbers(ctx, weight):
    with pytest.raises(DefinitionError, match="weights|finite numbers"):
        import_questionnaire(_with(lambda d: d["weights"].update(attitude=weight)))
    assert versions() == SHIPPED


def test_yaml_alias_bomb_nan_and_dates_are_refused_with_a_clear_error(ctx, tmp_path):
    from surveys.definition import load_yaml
    from surveys.services import import_questionnaire_file

    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    with pytest.raises(DefinitionError, match="line 2: YAML aliases"):
        load_yaml(bomb)
    nan = yaml.safe_dump(DEFAULT, allow_unicode=True).replace("attitude: 1", "attitude: .nan")
    path = tmp_path / "nan.yaml"
    path.write_text(nan, encoding="utf-8")
    with pytest.raises(DefinitionError, match="weights"):
        import_questionnaire_file(path)
    with pytest.raises(DefinitionError, match="finite numbers"):
        import_questionnaire(_with(lambda d: d.update(note=load_yaml("2026-01-01"))))
    with pytest.raises(DefinitionError, match="nested too deeply"):
        load_yaml("[" * 5000 + "]" * 5000)
    with pytest.raises(DefinitionError, match="not valid YAML"):
        load_yaml("key: [unclosed")
    assert versions() == SHIPPED


def test_admin_import_of_an_alias_bomb_shows_the_error_and_stores_nothing(ctx, client):
    from tests.conftest import login, post_form

    login(client, "admin")
    page = post_form(client, "/admin/questionnaires", {"definition": "a: &a [1, 2]\nb: [*a, *a]\n"})
    assert page.status_code == 400 and "第 2 行:问卷中不能使用 YAML 别名(*name)" in page.get_data(as_text=True)
    assert versions() == SHIPPED


@pytest.mark.parametrize("lang, message", [
    ("zh-CN", "第 2 题(attitude):show_if 引用的 &#39;nps&#39; 不是前面的题目"),
    ("en", "question 2 (attitude): show_if refers to &#39;nps&#39;, which is not an earlier question"),
])
def test_a_questionnaire_mistake_is_told_in_the_admins_language(ctx, client, lang, message):
    """Issue 11: the YAML import's validation text, with the question it names, in zh-CN too."""
    from tests.conftest import login, post_form

    login(client, "admin")
    broken = yaml.safe_dump(_with(lambda d: d["questions"][1].update(show_if="nps >= 9")), allow_unicode=True)
    page = post_form(client, f"/admin/questionnaires?lang={lang}", {"definition": broken})
    assert page.status_code == 400 and message in page.get_data(as_text=True)
    unclosed = post_form(client, f"/admin/questionnaires?lang={lang}", {"definition": "key: [unclosed\n"})
    assert {"zh-CN": "第 2 行第 1 列:不是有效的 YAML", "en": "line 2, column 1: not valid YAML"}[lang] \
        in unclosed.get_data(as_text=True)
    assert versions() == SHIPPED
