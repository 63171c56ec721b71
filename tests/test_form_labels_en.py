"""Task forms speak the reader's language: the English texts (`x-title-en`, `x-description-en`)
of forms/*.json in English, the Chinese ones by default; validation messages follow too."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from governance import forms
from tests.webkit import DEMO_PASSWORD, csrf_token, demo_app, login, ready, report

FORMS = Path(__file__).resolve().parents[1] / "forms"
EXCEPT = {"satisfaction_survey.json"}
TRANSLATED = sorted(p for p in FORMS.glob("*.json") if p.name not in EXCEPT)


@pytest.mark.parametrize("path", TRANSLATED, ids=lambda p: p.stem)
def test_every_form_has_english_texts(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)
    assert schema.get("x-title-en"), path.name
    if schema.get("description"):
        assert schema.get("x-description-en"), path.name
    for name, prop in schema["properties"].items():
        assert prop.get("x-title-en"), f"{path.name}: {name}"
        if prop.get("description"):
            assert prop.get("x-description-en"), f"{path.name}: {name}"
        target = prop.get("items") if prop.get("type") == "array" else prop
        for choice in (target or {}).get("oneOf") or []:
            assert choice.get("x-title-en"), f"{path.name}: {name} = {choice.get('const')}"


def test_localized_falls_back_to_chinese():
    schema = {"title": "表", "x-title-en": "Form", "properties": {
        "a": {"title": "甲", "x-title-en": "A", "description": "说明", "oneOf": [
            {"const": 1, "title": "一", "x-title-en": "One"}, {"const": 2, "title": "二"}]},
        "b": {"title": "乙", "description": "只有中文"}}}
    en = forms.localized(schema, "en")
    assert en["title"] == "Form" and en["properties"]["a"]["title"] == "A"
    assert en["properties"]["a"]["description"] == "说明"
    assert [c["title"] for c in en["properties"]["a"]["oneOf"]] == ["One", "二"]
    assert en["properties"]["b"] == {"title": "乙", "description": "只有中文"}
    assert schema["properties"]["a"]["title"] == "甲"          # the original is untouched
    assert forms.localized(schema, None) is schema


@pytest.fixture
def triage(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as (app, factory):
        _, instance_id, _ = report(factory)
        [task] = [t for t in ready(factory, instance_id) if t.task == "triage"]
        yield app, task.id


def test_task_page_labels_in_english_and_chinese(triage):
    app, task_id = triage
    english = app.test_client()
    login(english, "sq-hs-jfl-sq1")
    html = english.get(f"/tasks/{task_id}?lang=en").get_data(as_text=True)
    for text in ("Triage result", "Reply to residents", "Solve locally in the community",
                 "Send to the street Party committee to coordinate", "Reasons or additional notes (optional).",
                 "the community Party organisation analyses the reported matter"):
        assert text in html, text
    assert "研判结论" not in html and "社区就地解决" not in html
    # validation messages are in English too
    page = english.post(f"/tasks/{task_id}", data={"csrf_token": csrf_token(html)})
    assert page.status_code == 422
    assert "This field is required." in page.get_data(as_text=True)

    chinese = app.test_client()
    login(chinese, "sq-hs-jfl-sq1")
    html = chinese.get(f"/tasks/{task_id}").get_data(as_text=True)
    for text in ("研判结论", "答复居民", "社区就地解决", "上报街道党工委协调"):
        assert text in html, text
    assert "Triage result" not in html and "Solve locally in the community" not in html


def test_api_task_form_in_english(triage):
    app, task_id = triage
    client = app.test_client()
    token = client.post("/api/v1/session", json={"username": "sq-hs-jfl-sq1", "password": DEMO_PASSWORD}
                        ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    form = client.get(f"/api/v1/tasks/{task_id}", headers={**headers, "Accept-Language": "en"}).get_json()["form"]
    jsonschema.validators.validator_for(form).check_schema(form)
    assert form["title"] == "Community triage"
    assert form["properties"]["route"]["title"] == "Triage result"
    assert [c["title"] for c in form["properties"]["route"]["oneOf"]][0] == "Solve locally in the community"
    form = client.get(f"/api/v1/tasks/{task_id}", headers=headers).get_json()["form"]
    assert form["title"] == "社区研判" and form["properties"]["route"]["title"] == "研判结论"

