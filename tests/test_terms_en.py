"""Names from the diagrams (tasks, processes) speak the reader's language: the English catalogue
translates every one of processes/*.bpmn, the `term` filter shows them, and unknown names
(a fresh edit in the modeler) stay as they are."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.support import Translations
from lxml import etree

from tests.webkit import demo_app, dispose, login, make_app, ready, report
from webapp.terms import NAMES, STAGE_AND_CATEGORY_NAMES, UNIT_KIND_NAMES, localized_figures, term
from webapp.i18n import compile_catalogues

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SHOWN = ("process", "userTask", "intermediateCatchEvent")   # the kinds of element named on pages


def diagram_names() -> set[str]:
    names = set()
    for path in sorted(PROCESSES.glob("*.bpmn")):
        tree = etree.parse(str(path))
        for kind in SHOWN:
            names.update(el.get("name").strip() for el in tree.iter(f"{{{BPMN}}}{kind}") if el.get("name"))
    return names


def test_every_diagram_name_has_an_english_translation():
    names = diagram_names()
    assert "社区研判" in names and "社区吹哨、部门报到" in names
    english = Translations.load(str(compile_catalogues()), ["en"])
    missing = sorted(n for n in names if english.gettext(n) in ("", n))
    assert not missing, f"no English translation in messages.po for: {missing}"


def test_every_stage_category_and_unit_kind_is_translated_and_listed():
    from governance.directory import CATEGORIES, KIND_NAMES
    from governance.register import STAGES
    names = {*STAGES.values(), *CATEGORIES, *KIND_NAMES.values()}
    english = Translations.load(str(compile_catalogues()), ["en"])
    assert not sorted(n for n in names if english.gettext(n) in ("", n))
    assert not sorted(names - {str(n) for n in (*STAGE_AND_CATEGORY_NAMES, *UNIT_KIND_NAMES)})


def test_every_diagram_name_is_listed_for_extraction():
    listed = {str(n) for n in NAMES}
    missing = sorted(diagram_names() - listed)
    assert not missing, f"not listed in webapp/terms.py NAMES: {missing}"


def test_filter_in_both_languages(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path)
    try:
        with app.test_request_context("/?lang=en"):
            assert term("社区研判") == "Community triage"
            assert term("社区吹哨、部门报到", "whistle") == "Community whistle, department report for duty"
            assert term("刚改的名字") == "刚改的名字"
            assert term(None, "triage") == "triage" and term("", None) == ""
        with app.test_request_context("/?lang=zh"):
            assert term("社区研判", "triage") == "社区研判"
            assert term(None, "triage") == "triage"
    finally:
        dispose(app)


@pytest.fixture
def triage(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as (app, factory):
        whistle_id, instance_id, _ = report(factory, category="交通出行")
        [task] = [t for t in ready(factory, instance_id) if t.task == "triage"]
        yield app, task.id, whistle_id


def test_inbox_and_task_page_show_task_names_in_the_reader_language(triage):
    app, task_id, whistle_id = triage
    english = app.test_client()
    login(english, "sq-hs-jfl-sq1")
    html = english.get("/?lang=en").get_data(as_text=True)
    assert "Community triage" in html and ">Transport</td>" in html
    assert "社区研判" not in html and ">交通出行<" not in html    # (category values sent stay Chinese keys)
    stage = re.search(r'data-testid="stage">([^<]*)<', english.get(f"/whistles/{whistle_id}").get_data(as_text=True))
    assert stage.group(1) == "Community triage"
    html = english.get(f"/tasks/{task_id}").get_data(as_text=True)     # the session remembers English
    assert '<h1 class="h3">Community triage</h1>' in html

    chinese = app.test_client()
    login(chinese, "sq-hs-jfl-sq1")
    html = chinese.get("/").get_data(as_text=True)
    assert "社区研判" in html
    assert "Community triage" not in html


def test_dashboard_months_and_categories_in_english(tmp_path):
    figures = {"by_month": [{"id": "2026-03", "name": "2026年3月", "reported": 4}],
               "by_category": [{"id": "明灯", "name": "明灯", "reported": 2}],
               "by_district": [{"id": "hs", "name": "花山区", "reported": 6}]}
    app = make_app(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path)
    try:
        with app.test_request_context("/?lang=en"):
            english = localized_figures(figures)
            assert [r["name"] for r in english["by_month"]] == ["2026-03"]
            assert [r["name"] for r in english["by_category"]] == ["Street lights"]
            assert english["by_district"] == figures["by_district"] and english["by_month"][0]["reported"] == 4
        with app.test_request_context("/?lang=zh"):
            assert localized_figures(figures) == figures
    finally:
        dispose(app)
