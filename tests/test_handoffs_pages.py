"""Hand-offs officers can follow, over HTTP: after each submission the officer is told where the
whistle went and who holds it now (flash message after a web form, `handed_to` in the API
answer); what each officer wrote appears on the whistle page under its stage with the officer's
name and unit (not a username), line breaks kept and HTML escaped.
One database per kind for the module (SQLite, and PostgreSQL with TEST_POSTGRES_URL)."""
from __future__ import annotations

import pytest
from lxml import html as lhtml
from sqlalchemy import select

import tests.procedure_kit  # noqa: F401  (loads the plugins)
from tests.conftest import scratch_database

from governance.directory import unit_name  # noqa: E402
from governance.models import Officer  # noqa: E402
from tests.webkit import api_token, csrf_token, demo_app, logged_in, ready, report  # noqa: E402


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    with scratch_database(request.param, tmp_path_factory.mktemp("handoffs-db")) as url:
        with demo_app(url, tmp_path_factory.mktemp("handoffs")) as site:
            yield site



def post_task(client, task_id: str, data: dict):
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    return client.post(f"/tasks/{task_id}", data={"csrf_token": csrf_token(page), **data})


def flashes(body: str) -> list[str]:
    doc = lhtml.fromstring(body)
    return [el.text_content().strip() for el in doc.xpath('//*[contains(@class, "alert")]')]


def task_of(factory, instance_id: int, name: str):
    [task] = [t for t in ready(factory, instance_id) if t.task == name]
    return task


def test_after_a_web_submission_the_officer_is_told_where_the_whistle_went(site):
    app, factory = site
    _wid, iid, no = report(factory, title="楼道灯不亮", category="明灯")
    client = logged_in(app, "sq-hs-jfl-sq1")
    res = post_task(client, task_of(factory, iid, "triage").id, {"route": "street", "reply": "已上报街道协调。"})
    assert res.status_code == 302
    with factory() as session:
        street = unit_name(session, "hs-jfl")
    [message] = [m for m in flashes(client.get(res.headers["Location"]).get_data(as_text=True)) if no in m]
    assert f"下一步：街道协调解决（{street}）" in message

    # the street resolves it: the community's officer... no, the street's officer is told it is closed
    street_client = logged_in(app, "jd-hs-jfl")
    res = post_task(street_client, task_of(factory, iid, "street_coordinate").id,
                    {"outcome": "resolved", "result": "已更换灯泡", "reply": "楼道灯已修好。"})
    assert res.status_code == 302
    [message] = [m for m in flashes(street_client.get(res.headers["Location"]).get_data(as_text=True)) if no in m]
    assert "事项已办结" in message

    # in English the same sentence comes from the catalogue
    _wid, iid, no = report(factory, title="路面坑洼", category="道路设施")
    client.get("/?lang=en")
    res = post_task(client, task_of(factory, iid, "triage").id, {"route": "street", "reply": "已上报街道协调。"})
    [message] = [m for m in flashes(client.get(res.headers["Location"]).get_data(as_text=True)) if no in m]
    assert "Next:" in message and street in message


def test_the_api_answer_says_where_the_whistle_went_and_who_holds_it(site):
    app, factory = site
    _wid, iid, _no = report(factory, title="井盖缺失", category="道路设施")
    task = task_of(factory, iid, "triage")
    res = app.test_client().post(f"/api/v1/tasks/{task.id}", headers=api_token(app, "sq-hs-jfl-sq1"),
                                 json={"data": {"route": "local", "reply": "社区处理。"}})
    assert res.status_code == 200, res.get_json()
    with factory() as session:
        community = unit_name(session, "hs-jfl-sq1")
    handed = res.get_json()["handed_to"]
    assert handed["closed"] is False
    assert [(t["task"], t["unit_id"], t["unit_name"]) for t in handed["tasks"]] == \
        [("resolve_locally", "hs-jfl-sq1", community)]
    task = task_of(factory, iid, "resolve_locally")
    res = app.test_client().post(f"/api/v1/tasks/{task.id}", headers=api_token(app, "sq-hs-jfl-sq1"),
                                 json={"data": {"resolved_on": "2026-11-02", "result": "已补装", "reply": "井盖已补装。"}})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["handed_to"] == {"closed": True, "stage": "closed", "stage_name": "已办结", "tasks": []}


def test_what_officers_write_appears_under_its_stage_with_name_and_unit(site):
    app, factory = site
    wid, iid, _no = report(factory, title="占道经营", category="市容环境")
    note = "第一行：早市占道\n第二行：<b>晚上</b>也有"
    client = logged_in(app, "sq-hs-jfl-sq1")
    res = post_task(client, task_of(factory, iid, "triage").id,
                    {"route": "street", "reply": "已上报街道协调。", "note": note})
    assert res.status_code == 302
    res = post_task(logged_in(app, "jd-hs-jfl"), task_of(factory, iid, "street_coordinate").id,
                    {"outcome": "start_procedure", "result": "需城管部门\n联合执法", "reply": "已提请启动程序。"})
    assert res.status_code == 302
    with factory() as session:
        officers = {o.username: o for o in session.scalars(select(Officer).where(
            Officer.username.in_(("sq-hs-jfl-sq1", "jd-hs-jfl"))))}
        names = {u: (o.display_name, unit_name(session, o.unit_id)) for u, o in officers.items()}

    body = logged_in(app, "jd-hs-jfl").get(f"/whistles/{wid}").get_data(as_text=True)
    assert "<b>晚上</b>" not in body and "&lt;b&gt;晚上&lt;/b&gt;" in body       # escaped, never |safe
    doc = lhtml.fromstring(body)
    blocks = {el.get("data-task"): el for el in doc.xpath('//*[@data-testid="written"]')}
    assert set(blocks) >= {"triage", "street_coordinate"}
    triage = blocks["triage"]
    assert triage.xpath('.//dd[@data-field="note"]')[0].text_content() == note      # line breaks kept
    assert triage.xpath('.//dd[@data-field="reply"]')[0].text_content() == "已上报街道协调。"
    assert [dt.text_content() for dt in triage.xpath(".//dt")] == ["答复居民", "研判意见"]
    street = blocks["street_coordinate"]
    assert street.xpath('.//dd[@data-field="result"]')[0].text_content() == "需城管部门\n联合执法"
    # under its stage, by the officer's name and unit, never the username
    for task_id, username in (("triage", "sq-hs-jfl-sq1"), ("street_coordinate", "jd-hs-jfl")):
        item = blocks[task_id].getparent()
        who = item.xpath('.//*[@data-testid="event-who"]')[0].text_content()
        name, unit = names[username]
        assert name in who and unit in who and username not in who
    assert "sq-hs-jfl-sq1" not in "".join(el.text_content() for el in doc.xpath('//*[@data-testid="timeline"]'))


def chosen(body: str, name: str) -> list[str]:
    """The values a form field starts with (selected options, checked boxes)."""
    doc = lhtml.fromstring(body)
    return [el.get("value") for el in doc.xpath(f'//select[@name="{name}"]/option[@selected]'
                                                f' | //input[@name="{name}"][@checked]')]


def test_the_street_suggestion_prefills_the_proposal_and_consulted_departments_see_their_role(site):
    app, factory = site
    _wid, iid, _no = report(factory, title="公交站点过远", category="明灯")
    assert post_task(logged_in(app, "sq-hs-jfl-sq1"), task_of(factory, iid, "triage").id,
                     {"route": "street", "reply": "已上报街道。"}).status_code == 302
    street = logged_in(app, "jd-hs-jfl")
    assert post_task(street, task_of(factory, iid, "street_coordinate").id,
                     {"outcome": "start_procedure", "result": "需部门解决", "reply": "已提请启动程序。"}).status_code == 302
    # the intake category prefills the street's review
    review = task_of(factory, iid, "street_review")
    assert chosen(street.get(f"/tasks/{review.id}").get_data(as_text=True), "category") == ["明灯"]
    res = post_task(street, review.id, {"decision": "start_procedure", "category": "交通出行", "urgency": "3",
                                        "complexity": "2", "lead_department_id": "hs-cgj",
                                        "cooperating_department_ids": "hs-zjj", "opinion": "确需部门解决"})
    assert res.status_code == 302
    # the street's departments prefill the district's proposal; its grading is shown beside it
    org = logged_in(app, "zzb-hs")
    propose = task_of(factory, iid, "propose")
    page = org.get(f"/tasks/{propose.id}").get_data(as_text=True)
    assert chosen(page, "lead_department_id") == ["hs-cgj"]
    assert chosen(page, "cooperating_department_ids") == ["hs-zjj"]
    doc = lhtml.fromstring(page)
    shown = {dd.get("data-k"): dd.text_content().strip()
             for dd in doc.xpath('//*[@data-testid="street-suggestion"]//dd')}
    with factory() as session:
        assert shown["lead_department_id"] == unit_name(session, "hs-cgj")
        assert shown["cooperating_department_ids"] == unit_name(session, "hs-zjj")
    assert (shown["category"], shown["urgency"], shown["complexity"]) == ("交通出行", "3", "2")

    assert post_task(org, propose.id, {"decision": "consult", "lead_department_id": "hs-cgj",
                                       "cooperating_department_ids": "hs-zjj"}).status_code == 302
    # each consulted department sees whether it is proposed as lead or as cooperating
    for username, role in (("bm-hs-cgj", "lead"), ("bm-hs-zjj", "cooperating")):
        client = logged_in(app, username)
        inbox = lhtml.fromstring(client.get("/inbox?task=consultation_reply").get_data(as_text=True))
        [task] = [t for t in ready(factory, iid) if t.task == "consultation_reply" and t.unit_id == username[3:]]
        row = inbox.xpath(f'//a[contains(@href, "/tasks/{task.id}")]/ancestor::tr')[0]
        assert [b.get("data-role") for b in row.xpath('.//*[@data-testid="proposed-role"]')] == [role]
        page = lhtml.fromstring(client.get(f"/tasks/{task.id}").get_data(as_text=True))
        [note] = page.xpath('//*[@data-testid="proposed-role"]')
        assert note.get("data-role") == role
        assert ("牵头部门" if role == "lead" else "配合部门") in note.text_content()


def test_one_category_list_for_intake_review_open311_and_figures(site):
    from governance.directory import CATEGORIES
    from webapp.open311 import SERVICES
    app, factory = site
    _wid, iid, _no = report(factory, title="噪声扰民", category="生态环境")
    assert post_task(logged_in(app, "sq-hs-jfl-sq1"), task_of(factory, iid, "triage").id,
                     {"route": "street", "reply": "已上报街道。"}).status_code == 302
    assert post_task(logged_in(app, "jd-hs-jfl"), task_of(factory, iid, "street_coordinate").id,
                     {"outcome": "start_procedure", "result": "需部门解决", "reply": "已提请。"}).status_code == 302
    review = task_of(factory, iid, "street_review")
    form = app.test_client().get(f"/api/v1/tasks/{review.id}", headers=api_token(app, "jd-hs-jfl")).get_json()["form"]
    assert [c["const"] for c in form["properties"]["category"]["oneOf"]] == list(CATEGORIES)
    intake = lhtml.fromstring(logged_in(app, "sq-hs-jfl-sq1").get("/report").get_data(as_text=True))
    assert [o.get("value") for o in intake.xpath('//select[@name="category"]/option') if o.get("value")] == list(CATEGORIES)
    services = app.test_client().get("/open311/v2/services.json").get_json()
    assert sorted(SERVICES[s["service_code"]][0] for s in services) == sorted(CATEGORIES)
    dashboard = lhtml.fromstring(logged_in(app, "zzb-mas").get("/dashboard").get_data(as_text=True))
    assert [o.get("value") for o in dashboard.xpath('//select[@name="category"]/option') if o.get("value")] == list(CATEGORIES)
    # in English the review's choices are the catalogue's names
    en = app.test_client().get(f"/api/v1/tasks/{review.id}?lang=en", headers=api_token(app, "jd-hs-jfl")).get_json()
    titles = {c["const"]: c["title"] for c in en["form"]["properties"]["category"]["oneOf"]}
    assert titles["交通出行"] == "Transport" and titles["其他"] == "Other"
