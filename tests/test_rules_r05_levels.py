"""R5/R6, levels: a district organisation department dispatches only to its own district's
departments and units; city departments and units are dispatched only by the city organisation
department, after escalation. The proposal form offers only those; a submission naming another
one is refused with a field error and nothing changes — through the officers' inboxes (World) and
through the JSON API (422 with field errors), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from tests.procedure_kit import local, world  # noqa: F401  (session-scoped database per kind)
from tests.conftest import scratch_database

from engine.errors import FormInvalid  # noqa: E402
from engine.models import InboxTask  # noqa: E402
from governance import workspace  # noqa: E402
from governance.directory import departments  # noqa: E402
from governance.models import Consultation  # noqa: E402
from tests.webkit import DEMO_PASSWORD, advance, demo_app, logged_in, ready, report  # noqa: E402


def offered(world, username, task, w) -> dict[str, set[str]]:
    """{field: the department ids its form offers} of `username`'s ready `task` of whistle `w`."""
    task_id = world.task_id(username, task, w)
    with world.factory() as session:
        schema = workspace.task_form(session, session.get(InboxTask, task_id))
    props = schema["properties"]
    return {"lead_department_id": {c["const"] for c in props["lead_department_id"]["oneOf"]},
            "cooperating_department_ids": {c["const"] for c in props["cooperating_department_ids"]["items"]["oneOf"]}}


def level_ids(world, parent) -> set[str]:
    with world.factory() as session:
        return {u.id for u in departments(session, parent)}


def refused(world, username, task, data, w, at) -> set[str]:
    """The fields named by the refusal of `username` submitting `data`; nothing may have changed."""
    before = (world.ready(w), len(world.rows(Consultation, w)), world.instance(w).state)
    with pytest.raises(FormInvalid) as caught:
        world.act(username, task, data, w, at=at)
    assert (world.ready(w), len(world.rows(Consultation, w)), world.instance(w).state) == before
    return {e.field.split(".")[0] for e in caught.value.errors}


def test_r05_a_district_org_department_dispatches_only_to_its_own_district(world):
    w = world.report("小区道路积水", at=local(2026, 4, 6), community_id="hs-jfl-sq1", category="市容环境")
    world.to_street_review(w, local(2026, 4, 7))
    world.start_procedure(w, local(2026, 4, 8))
    hs = level_ids(world, "hs")
    assert hs and all(d.startswith("hs-") for d in hs)
    assert offered(world, "zzb-hs", "propose", w) == {"lead_department_id": hs, "cooperating_department_ids": hs}

    at = local(2026, 4, 9)
    # another district's department, a city department, a city enterprise: refused, field named
    assert refused(world, "zzb-hs", "propose", {"decision": "consult", "lead_department_id": "ys-cgj",
                                                "cooperating_department_ids": []}, w, at) == {"lead_department_id"}
    assert refused(world, "zzb-hs", "propose", {"decision": "consult", "lead_department_id": "city-cgj",
                                                "cooperating_department_ids": []}, w, at) == {"lead_department_id"}
    assert "cooperating_department_ids" in refused(
        world, "zzb-hs", "propose", {"decision": "consult", "lead_department_id": "hs-cgj",
                                     "cooperating_department_ids": ["hs-zjj", "city-gdgs"]}, w, at)
    # its own district's departments are accepted
    world.propose(w, at, lead="hs-cgj", cooperating=["hs-zjj"])
    assert world.ready(w) == [("consultation_reply", "department", "hs-cgj"),
                              ("consultation_reply", "department", "hs-zjj")]


def test_r06_city_departments_only_after_escalation(world):
    w = world.report("铁路桥下涵洞积水", at=local(2026, 4, 13), community_id="hs-jfl-sq2", category="交通出行")
    world.to_street_review(w, local(2026, 4, 14))
    world.start_procedure(w, local(2026, 4, 15))
    # before escalation the district cannot send it to a city department
    assert refused(world, "zzb-hs", "propose", {"decision": "consult", "lead_department_id": "city-jtj",
                                                "cooperating_department_ids": []}, w,
                   local(2026, 4, 16)) == {"lead_department_id"}
    world.act("zzb-hs", "propose", {"decision": "escalate", "note": "涉及铁路部门，区级无权协调"}, w,
              at=local(2026, 4, 16))
    world.act("zzb-hs", "district_meeting", {"meeting_date": "2026-04-17", "decision": "escalate",
                                             "minutes": "同意上报市委组织部"}, w, at=local(2026, 4, 17))
    assert world.ready(w) == [("propose", "city_org", "mas")]
    # the city org department is offered the city's departments and units only
    city = level_ids(world, "mas")
    assert "city-gdgs" in city and not any(d.startswith(("hs-", "ys-", "bw-")) for d in city)
    assert offered(world, "zzb-mas", "propose", w) == {"lead_department_id": city, "cooperating_department_ids": city}
    assert refused(world, "zzb-mas", "propose", {"decision": "consult", "lead_department_id": "hs-cgj",
                                                 "cooperating_department_ids": []}, w,
                   local(2026, 4, 20)) == {"lead_department_id"}
    world.propose(w, local(2026, 4, 20), lead="city-jtj", cooperating=["city-gdgs"], org="zzb-mas")
    assert world.ready(w) == [("consultation_reply", "department", "city-gdgs"),
                              ("consultation_reply", "department", "city-jtj")]


# -- the same through the HTTP API ----------------------------------------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    with scratch_database(request.param, tmp_path_factory.mktemp("r05-db")) as url:
        with demo_app(url, tmp_path_factory.mktemp("r05")) as site:
            yield site


def _propose_task(factory, title):
    _wid, instance_id, _no = report(factory, title=title)
    advance(factory, instance_id, "propose")
    (task,) = [t for t in ready(factory, instance_id) if t.task == "propose"]
    return task


def test_r05_the_api_refuses_another_districts_or_a_city_department_with_field_errors(site):
    app, factory = site
    task = _propose_task(factory, "小区门口路灯不亮")
    client = app.test_client()
    login = client.post("/api/v1/session", json={"username": "zzb-hs", "password": DEMO_PASSWORD})
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + login.get_json()["token"]
    form = client.get(f"/api/v1/tasks/{task.id}").get_json()["form"]
    lead = {c["const"] for c in form["properties"]["lead_department_id"]["oneOf"]}
    assert "hs-cgj" in lead and not [d for d in lead if not d.startswith("hs-")]

    for data, field in (({"decision": "consult", "lead_department_id": "ys-cgj", "cooperating_department_ids": []},
                         "lead_department_id"),
                        ({"decision": "consult", "lead_department_id": "hs-cgj",
                          "cooperating_department_ids": ["city-jtj"]}, "cooperating_department_ids")):
        answer = client.post(f"/api/v1/tasks/{task.id}", json={"data": data})
        assert answer.status_code == 422, answer.get_json()
        body = answer.get_json()
        assert field in [e["field"] for e in body["errors"]] and all(e["message"] for e in body["errors"])
        assert [t.task for t in ready(factory, task.instance_id)] == ["propose"]     # nothing changed

    ok = client.post(f"/api/v1/tasks/{task.id}", json={"data": {"decision": "consult", "lead_department_id": "hs-cgj",
                                                                "cooperating_department_ids": ["hs-zjj"]}})
    assert ok.status_code == 200, ok.get_json()
    assert sorted(t.unit_id for t in ready(factory, task.instance_id)) == ["hs-cgj", "hs-zjj"]


def test_r06_the_web_form_of_the_district_lists_no_city_department(site):
    app, factory = site
    task = _propose_task(factory, "小区周边道路拥堵")
    page = logged_in(app, "zzb-hs").get(f"/tasks/{task.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'value="hs-cgj"' in body and 'value="city-jtj"' not in body and 'value="ys-cgj"' not in body
