"""What officers submit is what the form allows (issue 10): server-owned fields — read-only ones
and the variables the procedure assigns and routes on (street_id, review_unit_id, review_level,
year, community_id, level …) — are refused through the API and the engine, and nothing changes;
only the fields a form declares enter the instance data, even for a form deployed open; deploy
refuses a form that is not closed; the form editor refuses `{}`, open forms and editable fields
named like a routing variable of the diagrams using the form."""
from __future__ import annotations

import json
import shutil
from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from engine import runtime
from engine.db import write_session
from engine.deploy import deploy, read_folder
from engine.errors import DeployRefused, FormInvalid
from engine.models import Deployment, FormVersion, InboxTask, Instance
from governance import assessment as A
from governance import register
from governance.calendar import TZ
from governance.joint_assessment_models import StreetRecommendation
from governance.models import Evaluation, Unit
from tests.policy_kit import csrf_headers, policy_site, post_form, token, upload
from tests.webkit import demo_app, logged_in, ready, report
from webapp.system import FORMS_DIR, PROCESSES_DIR

STREET = "hs-jfl"
NEW_YEAR = datetime(2027, 1, 4, 10, 0, tzinfo=TZ)


def _evaluated(factory):
    """One 2026 evaluation of a Huashan department by a community of street hs-jfl."""
    with write_session(factory) as session:
        w = register.report_whistle(session, title="年中事项", description="年中事项", category="市容环境",
                                    community_id="hs-jfl-sq1", location="示例路 1 号", reporter="网格员",
                                    source="patrol", actor="wg-hs-jfl-sq1")
        session.flush()
        session.add(Evaluation(whistle_id=w.id, department_id="hs-cgj", grade="good", timeliness="good",
                               plan="good", result="good", attitude="good", opinion="评价",
                               facts={"role": "lead", "report_overdue": False, "complete_overdue": False},
                               at=datetime(2026, 6, 1, 10, tzinfo=TZ)))


@pytest.fixture
def year_site(db_url, tmp_path):
    with demo_app(db_url, tmp_path, seed=_evaluated) as (app, factory):
        app.config["CLOCK"].set(NEW_YEAR)
        with write_session(factory) as session:
            A.start_assessment(session, 2026, actor="zzb-mas", at=NEW_YEAR)
        yield app, factory


def _task(factory, task: str) -> InboxTask:
    with factory() as session:
        row = session.scalars(select(InboxTask).where(InboxTask.task == task)).first()
        assert row is not None, task
        session.expunge(row)
        return row


def _api_token(client, username):
    response = client.post("/api/v1/session", json={"username": username, "password": "demo1234"})
    return {"Authorization": "Bearer " + response.get_json()["token"]}


def _refused_fields(response) -> set[str]:
    assert response.status_code == 422, response.get_json()
    return {e["field"] for e in response.get_json()["errors"]}


def test_server_owned_fields_are_refused_through_the_api_street_recommendation_and_org_review(year_site):
    app, factory = year_site
    client = app.test_client()
    task = _task(factory, "street_recommendation")
    assert (task.role, task.unit_id) == ("street", STREET)
    with factory() as session:
        other_street = session.scalar(select(Unit.id).where(Unit.kind == "street", Unit.id != STREET,
                                                            Unit.parent_id != "hs").order_by(Unit.id))
        before = runtime.task_data(session, session.get(Instance, task.instance_id), task.id)
    # the engine itself refuses them, whichever way a submission comes
    with pytest.raises(FormInvalid) as engine_refused, write_session(factory) as session:
        runtime.complete(session, task.id, {"street_id": other_street, "year": 2025, "opinion": "代他人推荐"},
                         actor=f"jd-{STREET}")
    assert {e.field for e in engine_refused.value.errors} == {"street_id", "year"}
    street = _api_token(client, f"jd-{STREET}")
    # another district's street, another year, the review level: none is the street's to say
    for data, field in (({"street_id": other_street, "opinion": "代他人推荐"}, "street_id"),
                        ({"year": 2025, "opinion": "改年份"}, "year"),
                        ({"review_level": "city", "opinion": "改层级"}, "review_level"),
                        ({"street_ids": [other_street], "opinion": "改范围"}, "street_ids")):
        refused = client.post(f"/api/v1/tasks/{task.id}", json={"data": data}, headers=street)
        assert field in _refused_fields(refused), data
    with factory() as session:   # nothing changed: the task waits, its data is as before, no recommendation
        assert session.get(InboxTask, task.id) is not None
        assert runtime.task_data(session, session.get(Instance, task.instance_id), task.id) == before
        assert session.scalar(select(func.count()).select_from(StreetRecommendation)) == 0
    done = client.post(f"/api/v1/tasks/{task.id}", json={"data": {"opinion": "同意"}}, headers=street)
    assert done.status_code == 200, done.get_json()
    with factory() as session:
        [rec] = session.scalars(select(StreetRecommendation)).all()
        assert rec.street_id == STREET

    review = _task(factory, "org_review")
    assert (review.role, review.unit_id) == ("district_org", "hs")
    district = _api_token(client, "zzb-hs")
    for data, field in (({"review_unit_id": "mas", "opinion": "代市委审核"}, "review_unit_id"),
                        ({"review_level": "city", "opinion": "改层级"}, "review_level"),
                        ({"city_id": "hs", "opinion": "改市"}, "city_id")):
        refused = client.post(f"/api/v1/tasks/{review.id}", json={"data": data}, headers=district)
        assert field in _refused_fields(refused), data
    with factory() as session:
        assert session.get(InboxTask, review.id) is not None


def _open_triage(factory):
    """The deployed triage form made open, as a deployment from before forms had to be closed."""
    with write_session(factory) as session:
        deployment = session.scalars(select(Deployment).order_by(Deployment.id.desc())).first()
        forms = json.loads(json.dumps(deployment.forms))
        forms["triage.json"].pop("additionalProperties", None)
        session.execute(update(Deployment).where(Deployment.id == deployment.id).values(forms=forms))


@pytest.fixture
def open_form_site(db_url, tmp_path):
    with demo_app(db_url, tmp_path, seed=_open_triage) as site:
        yield site


def test_only_declared_fields_enter_the_instance_data_even_with_a_form_deployed_open(open_form_site):
    app, factory = open_form_site
    _, instance_id, _ = report(factory)
    [task] = ready(factory, instance_id)
    assert task.task == "triage"
    # the engine: an undeclared key (the community the whistle belongs to) is refused, nothing changes
    with pytest.raises(FormInvalid) as refused, write_session(factory) as session:
        runtime.complete(session, task.id, {"route": "local", "reply": "本社区处理", "community_id": "ys-xyz-sq1"},
                         actor="test")
    assert [e.field for e in refused.value.errors] == ["community_id"]
    # the API: the same, per field, in the officer's language
    client = app.test_client()
    headers = _api_token(client, "sq-hs-jfl-sq1")
    response = client.post(f"/api/v1/tasks/{task.id}", headers=headers,
                           json={"data": {"route": "local", "reply": "本社区处理", "street_id": "ys-xyz",
                                          "whistle_no": "X-1"}})
    assert _refused_fields(response) == {"street_id", "whistle_no"}
    assert "表单中没有这一项" in json.dumps(response.get_json(), ensure_ascii=False)
    with factory() as session:
        data = runtime.task_data(session, session.get(Instance, instance_id), task.id)
        assert data["community_id"] == "hs-jfl-sq1" and "street_id" in data and data["street_id"] != "ys-xyz"
        assert session.get(InboxTask, task.id) is not None
    ok = client.post(f"/api/v1/tasks/{task.id}", headers=headers, json={"data": {"route": "local", "reply": "本社区处理"}})
    assert ok.status_code == 200, ok.get_json()


def test_deploy_refuses_a_form_that_is_not_closed(session_factory, tmp_path):
    forms = tmp_path / "forms"
    shutil.copytree(FORMS_DIR, forms)
    schema = json.loads((forms / "triage.json").read_text(encoding="utf-8"))
    del schema["additionalProperties"]
    (forms / "triage.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    from webapp.system import load_plugins
    load_plugins()
    with pytest.raises(DeployRefused) as refused, write_session(session_factory) as session:
        deploy(session, read_folder(PROCESSES_DIR), forms_dir=forms, actor="test")
    [problem] = refused.value.problems
    assert (problem.element, problem.file, problem.code) == ("triage", "whistle.bpmn", "form_open")
    assert "additionalProperties" in problem.message


@pytest.fixture
def site(db_url, tmp_path):
    with policy_site(db_url, tmp_path) as s:
        yield s


def test_deploy_through_the_api_refuses_an_open_form_in_the_readers_language(site):
    schema = json.loads((site.forms / "triage.json").read_text(encoding="utf-8"))
    schema["additionalProperties"] = True
    (site.forms / "triage.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    client = site.app.test_client()
    staff = token(client, "policy")
    xml = (site.processes / "whistle.bpmn").read_text(encoding="utf-8").replace('name="社区研判"', 'name="社区研判（新）"')
    response = upload(client, staff, {"whistle.bpmn": xml})
    assert response.status_code == 422, response.get_json()
    [error] = response.get_json()["errors"]
    assert error["element"] == "triage" and "triage.json" in error["message"] and "封闭" in error["message"]
    english = upload(client, {**staff, "Accept-Language": "en"}, {"whistle.bpmn": xml}).get_json()
    assert "not closed" in english["errors"][0]["message"]


def _save(web, name, schema):
    return post_form(web, f"/processes/forms/{name}", {"schema": json.dumps(schema, ensure_ascii=False)},
                     page=f"/processes/forms/{name}")


def _stored(site, name):
    with site.factory() as session:
        return session.scalar(select(func.count()).select_from(FormVersion).where(FormVersion.name == name))


def test_form_editor_refuses_open_forms_and_fields_that_overwrite_routing_variables(site):
    web = logged_in(site.app, "policy")
    empty = _save(web, "triage.json", {})
    assert empty.status_code == 422 and "additionalProperties" in empty.get_data(as_text=True)
    triage = json.loads((site.forms / "triage.json").read_text(encoding="utf-8"))
    opened = dict(triage, additionalProperties=True)
    assert _save(web, "triage.json", opened).status_code == 422

    # the community the whistle belongs to decides who triages it: no form may let an officer set it
    with_unit = json.loads(json.dumps(triage))
    with_unit["properties"]["community_id"] = {"type": "string", "title": "社区"}
    refused = _save(web, "triage.json", with_unit)
    assert refused.status_code == 422
    assert "community_id" in refused.get_data(as_text=True) and "whistle" in refused.get_data(as_text=True)
    # the dispatch level (role {level}_org), the year and the street of an annual recommendation
    propose = json.loads((site.forms / "propose.json").read_text(encoding="utf-8"))
    propose["properties"]["level"] = {"type": "string", "enum": ["district", "city"]}
    assert "level" in _save(web, "propose.json", propose).get_data(as_text=True)
    street = json.loads((site.forms / "street_recommendation.json").read_text(encoding="utf-8"))
    for key in ("street_id", "year"):
        editable = json.loads(json.dumps(street))
        editable["properties"][key].pop("readOnly")
        response = _save(web, "street_recommendation.json", editable)
        assert response.status_code == 422 and key in response.get_data(as_text=True), key
    assert _stored(site, "triage.json") == _stored(site, "propose.json") == _stored(site, "street_recommendation.json") == 0

    # shown, never submitted: a read-only field of that name is fine, and so is a new decision field
    with_unit["properties"]["community_id"]["readOnly"] = True
    assert _save(web, "triage.json", with_unit).status_code == 302
    assert _stored(site, "triage.json") == 1
    assert "第 1 版" in web.get("/processes/forms").get_data(as_text=True)


def test_form_editor_and_modeler_write_nothing_into_the_source_tree(site):
    before = {p: p.read_bytes() for p in list(site.forms.rglob("*")) + list(site.processes.rglob("*")) if p.is_file()}
    web = logged_in(site.app, "policy")
    triage = json.loads((site.forms / "triage.json").read_text(encoding="utf-8"))
    triage["properties"]["reply"]["title"] = "答复居民（数据库）"
    assert _save(web, "triage.json", triage).status_code == 302
    xml = (site.processes / "whistle.bpmn").read_text(encoding="utf-8").replace('name="社区研判"', 'name="社区研判（新）"')
    headers = csrf_headers(web, "/processes/modeler")
    deployed = web.post("/processes/deploy", json={"name": "whistle.bpmn", "xml": xml}, headers=headers)
    assert deployed.status_code == 201, deployed.get_json()
    after = {p: p.read_bytes() for p in list(site.forms.rglob("*")) + list(site.processes.rglob("*")) if p.is_file()}
    assert after == before
    # the deployment took the form saved in the database
    with site.factory() as session:
        deployment = session.scalars(select(Deployment).order_by(Deployment.id.desc())).first()
        assert deployment.forms["triage.json"]["properties"]["reply"]["title"] == "答复居民（数据库）"


def test_init_redeploying_processes_does_not_undo_what_policy_staff_stored(site):
    """`whistle init` (run by every `make run`) deploys processes/ again: content deployed before
    creates nothing, so a diagram deployed from the modeler stays the newest, and a form saved in
    the editor stands in for forms/ when the folder is deployed anew."""
    from webapp.cli import _deploy_path
    web = logged_in(site.app, "policy")
    triage = json.loads((site.forms / "triage.json").read_text(encoding="utf-8"))
    triage["properties"]["reply"]["title"] = "答复居民（数据库）"
    assert _save(web, "triage.json", triage).status_code == 302
    xml = (site.processes / "whistle.bpmn").read_text(encoding="utf-8").replace('name="社区研判"', 'name="社区研判（新）"')
    deployed = web.post("/processes/deploy", json={"name": "whistle.bpmn", "xml": xml},
                        headers=csrf_headers(web, "/processes/modeler"))
    assert deployed.status_code == 201 and deployed.get_json()["version"] == 2
    assert _deploy_path(site.factory, PROCESSES_DIR, actor="system", once=True)
    _, instance_id, _ = report(site.factory)
    [task] = ready(site.factory, instance_id)
    assert task.name == "社区研判（新）"
    with site.factory() as session:
        assert session.get(Instance, instance_id).version.version == 2


def _street_id_editable(factory):
    """The deployed street_recommendation form with street_id editable (a form drawn carelessly)."""
    _evaluated(factory)
    with write_session(factory) as session:
        deployment = session.scalars(select(Deployment).order_by(Deployment.id.desc())).first()
        forms = json.loads(json.dumps(deployment.forms))
        forms["street_recommendation.json"]["properties"]["street_id"].pop("readOnly")
        session.execute(update(Deployment).where(Deployment.id == deployment.id).values(forms=forms))


def test_the_unit_a_task_is_assigned_by_is_refused_even_when_its_form_lets_it_be_edited(db_url, tmp_path):
    with demo_app(db_url, tmp_path, seed=_street_id_editable) as (app, factory):
        app.config["CLOCK"].set(NEW_YEAR)
        with write_session(factory) as session:
            A.start_assessment(session, 2026, actor="zzb-mas", at=NEW_YEAR)
        task = _task(factory, "street_recommendation")
        client = app.test_client()
        street = _api_token(client, f"jd-{STREET}")
        with factory() as session:   # a real street of another district
            other = session.scalar(select(Unit.id).where(Unit.kind == "street", Unit.parent_id != "hs").order_by(Unit.id))
        refused = client.post(f"/api/v1/tasks/{task.id}", json={"data": {"street_id": other, "opinion": "代推荐"}},
                              headers=street)
        assert _refused_fields(refused) == {"street_id"}
        with factory() as session:
            assert session.get(InboxTask, task.id) is not None
            assert session.scalar(select(func.count()).select_from(StreetRecommendation)) == 0


def test_form_editor_shows_fields_it_already_has_that_overwrite_a_routing_variable(site):
    """long_term_mechanism names the mechanism's lead and cooperating departments with the keys the
    handling process assigns complete_matter and cooperate by: shown as a warning (its diagrams'
    authors rename them); a form without such fields shows none."""
    web = logged_in(site.app, "policy")
    page = web.get("/processes/forms/long_term_mechanism.json").get_data(as_text=True)
    assert 'data-testid="routing-collisions"' in page
    assert "lead_department_id" in page and "cooperating_department_ids" in page and "handling" in page
    assert 'data-testid="routing-collisions"' not in web.get("/processes/forms/triage.json").get_data(as_text=True)
