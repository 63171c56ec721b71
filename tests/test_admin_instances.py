"""Administrators over HTTP: instance list (filters, keyset paging), detail, actions with a required
reason (suspend, edit data, resume, retry after fixing the cause, cancel, fire a timer now,
reassign), migration refused and done, bulk migration, the overview, directory and officers."""
import io

import pytest
from sqlalchemy import select

from engine import runtime
from engine.db import write_session
from engine.models import AuditEvent, InboxTask, Instance
from governance.models import Officer, Unit
from tests.policy_kit import (COMMUNITY, logged_in, policy_site, post_form, probe, token, upload)
from tests.webkit import advance, ready, report


@pytest.fixture
def site(db_url, tmp_path):
    with policy_site(db_url, tmp_path) as s:
        yield s


def start_probe(site, amount) -> int:
    with write_session(site.factory) as session:
        return runtime.start(session, "probe", {"amount": amount, "community_id": COMMUNITY}, actor="test").id


def act(client, headers, instance_id, action, **body):
    return client.post(f"/api/v1/instances/{instance_id}/{action}", headers=headers, json=body)


def test_incident_is_retried_after_its_cause_is_fixed(site):
    client = site.app.test_client()
    staff, admin = token(client, "policy"), token(client, "admin")
    assert upload(client, staff, {"probe.bpmn": probe()}).status_code == 201
    instance_id = start_probe(site, -5)

    detail = client.get(f"/api/v1/instances/{instance_id}", headers=admin).get_json()
    assert detail["status"] == "incident" and detail["incident"]["task"] == "record"
    assert "negative" in detail["incident"]["message"] and "record" in detail["elements"]["failed"]
    listing = client.get("/api/v1/instances?status=incident", headers=admin).get_json()
    assert [r["id"] for r in listing["items"]] == [instance_id]

    # a retry without fixing fails again; a reason is always required
    missing = act(client, admin, instance_id, "retry", reason="")
    assert missing.status_code == 422 and missing.get_json()["errors"][0]["field"] == "reason"
    assert act(client, admin, instance_id, "retry", reason="再试一次").get_json()["status"] == "incident"
    # data can be edited only while suspended
    assert act(client, admin, instance_id, "edit_data", reason="修正金额", changes={"amount": 5}).status_code == 409
    assert act(client, admin, instance_id, "suspend", reason="排查故障").get_json()["status"] == "suspended"
    edited = act(client, admin, instance_id, "edit_data", reason="金额录入错误，改为 5", changes={"amount": 5})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["changed"]["before"] == {"amount": -5}
    assert act(client, admin, instance_id, "resume", reason="已修正").get_json()["status"] == "incident"
    done = act(client, admin, instance_id, "retry", reason="数据已修正，重试")
    assert done.status_code == 200 and done.get_json()["status"] == "running"
    assert [t.task for t in ready(site.factory, instance_id)] == ["review"]

    trail = client.get(f"/api/v1/instances/{instance_id}", headers=admin).get_json()["audit"]
    actions = [(a["action"], a["reason"]) for a in trail if a["reason"]]
    assert ("edit_data", "金额录入错误，改为 5") in actions and ("retry", "数据已修正，重试") in actions

    # the instance page shows the incident story and the diagram
    web = logged_in(site.app, "admin")
    page = web.get(f"/admin/instances/{instance_id}").get_data(as_text=True)
    assert "data-bpmn-states" in page and "review" in page and "金额录入错误" in page


def test_actions_through_the_page_need_a_reason_and_report_what_happened(site):
    client = site.app.test_client()
    assert upload(client, token(client, "policy"), {"probe.bpmn": probe()}).status_code == 201
    instance_id = start_probe(site, -1)
    web = logged_in(site.app, "admin")
    page = f"/admin/instances/{instance_id}"
    assert "排除原因后重试" in web.get(page).get_data(as_text=True)
    no_reason = post_form(web, f"{page}/suspend", {"reason": ""}, page=page)
    assert no_reason.status_code == 302 and "请填写操作原因" in web.get(page).get_data(as_text=True)
    post_form(web, f"{page}/suspend", {"reason": "排查"}, page=page)
    shown = web.get(page).get_data(as_text=True)
    assert "已执行“暂停”" in shown and "修改数据（实例已暂停）" in shown
    post_form(web, f"{page}/edit_data", {"reason": "修正", "changes": '{"amount": 3}'}, page=page)
    post_form(web, f"{page}/resume", {"reason": "继续"}, page=page)
    post_form(web, f"{page}/retry", {"reason": "重试"}, page=page)
    shown = web.get(page).get_data(as_text=True)
    assert "已执行“重试”" in shown and "运行中" in shown
    post_form(web, f"{page}/cancel", {"reason": "重复上报"}, page=page)
    with site.factory() as session:
        assert session.get(Instance, instance_id).status == "cancelled"
    assert "实例已结束" in web.get(page).get_data(as_text=True)


def test_migration_is_refused_and_succeeds(site):
    client = site.app.test_client()
    staff, admin = token(client, "policy"), token(client, "admin")
    v1 = upload(client, staff, {"probe.bpmn": probe()}).get_json()
    instance_id = start_probe(site, 1)
    other_id = start_probe(site, 2)
    assert [t.task for t in ready(site.factory, instance_id)] == ["review"]
    v2 = upload(client, staff, {"probe.bpmn": probe(review_name="复核（改）")}).get_json()
    assert v2["version"] == 2

    refused = act(client, admin, instance_id, "migrate", reason="统一版本", target_version_id=v2["version_id"])
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["error"]["code"] == "migration_refused" and "review" in body["error"]["message"]
    assert {e["field"] for e in body["errors"]} == {"review"}
    web = logged_in(site.app, "admin")
    page = web.get(f"/admin/instances/{instance_id}").get_data(as_text=True)
    assert 'data-testid="migration-problems"' in page and "review" in page   # refusal shown before trying

    v3 = upload(client, staff, {"probe.bpmn": probe(extra_step=True)}).get_json()
    assert v3["version"] == 3
    page = web.get(f"/admin/instances/{instance_id}").get_data(as_text=True)
    assert "可以迁移" in page
    done = act(client, admin, instance_id, "migrate", reason="增加抽查环节")   # default: the newest version
    assert done.status_code == 200 and done.get_json()["version"] == 3

    # bulk: the other instance of version 1
    no_reason = client.post(f"/api/v1/versions/{v1['version_id']}/migrate", headers=admin,
                            json={"target_version_id": v3["version_id"], "reason": ""})
    assert no_reason.status_code == 422
    bulk = client.post(f"/api/v1/versions/{v1['version_id']}/migrate", headers=admin,
                       json={"target_version_id": v3["version_id"], "reason": "批量迁移"})
    assert bulk.status_code == 200 and bulk.get_json() == {"migrated": [other_id], "refused": []}
    with site.factory() as session:
        assert session.get(Instance, other_id).version.version == 3

    # both now finish through the new step
    for iid in (instance_id, other_id):
        [task] = ready(site.factory, iid)
        with write_session(site.factory) as session:
            runtime.complete(session, task.id, {"route": "street", "reply": "好"}, actor="test")
        assert [t.task for t in ready(site.factory, iid)] == ["check"]

    overview = client.get(f"/api/v1/versions/{v3['version_id']}/overview", headers=admin).get_json()
    assert overview["elements"]["check"]["ready"] == 2
    page = web.get(f"/admin/overview?version_id={v3['version_id']}").get_data(as_text=True)
    assert "data-bpmn-overview" in page and '"check"' in page


def test_instance_list_filters_and_keyset_paging(site):
    client = site.app.test_client()
    admin = token(client, "admin")
    ids = [report(site.factory, title=f"事项 {n}")[1] for n in range(3)]
    other = report(site.factory, title="别的社区", community_id="hs-jfl-sq2", actor="wg-hs-jfl-sq2")[1] \
        if _unit_exists(site, "hs-jfl-sq2") else None
    first = client.get("/api/v1/instances?process=whistle&limit=2", headers=admin).get_json()
    assert first["total"] == len(ids) + (1 if other else 0) and len(first["items"]) == 2
    second = client.get(f"/api/v1/instances?process=whistle&limit=2&after={first['next_after']}", headers=admin).get_json()
    seen = [r["id"] for r in first["items"] + second["items"]]
    assert len(seen) == len(set(seen)) and set(ids) <= set(seen)
    assert first["items"][0]["whistle"]["title"]

    community = client.get(f"/api/v1/instances?community={COMMUNITY}", headers=admin).get_json()
    assert {r["id"] for r in community["items"]} == set(ids)
    assert client.get("/api/v1/instances?community=nowhere", headers=admin).get_json()["items"] == []
    assert client.get("/api/v1/instances?status=completed", headers=admin).get_json()["items"] == []
    assert len(client.get("/api/v1/instances?version=1&process=whistle", headers=admin).get_json()["items"]) >= 3
    today = client.get("/api/v1/instances?date_from=2000-01-01&date_to=2999-12-31", headers=admin).get_json()
    assert set(ids) <= {r["id"] for r in today["items"]}
    assert client.get("/api/v1/instances?date_from=2999-01-01", headers=admin).get_json()["items"] == []
    bad = client.get("/api/v1/instances?date_from=yesterday", headers=admin)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "date_from"
    assert client.get("/api/v1/instances?status=bogus", headers=admin).status_code == 422

    advance(site.factory, ids[0], "report_for_duty")
    dept = client.get("/api/v1/instances?department=hs-cgj", headers=admin).get_json()
    assert [r["id"] for r in dept["items"]] == [ids[0]]
    coop = client.get("/api/v1/instances?department=hs-zjj", headers=admin).get_json()
    assert [r["id"] for r in coop["items"]] == [ids[0]]
    assert client.get("/api/v1/instances?overdue=1", headers=admin).get_json()["items"] == []

    web = logged_in(site.app, "admin")
    page = web.get("/admin/instances?process=whistle&limit=2").get_data(as_text=True)
    assert 'data-testid="instances-table"' in page and 'data-testid="next-page"' in page
    empty = web.get("/admin/instances?status=completed").get_data(as_text=True)
    assert 'data-testid="empty"' in empty


def _unit_exists(site, unit_id) -> bool:
    with site.factory() as session:
        return session.get(Unit, unit_id) is not None


def test_fire_timer_now_and_reassign(site):
    client = site.app.test_client()
    admin = token(client, "admin")
    _, instance_id, _ = report(site.factory)
    [triage] = ready(site.factory, instance_id)
    assigned = act(client, admin, instance_id, "reassign", reason="请专人研判", task_id=triage.id, assignee="sq-hs-jfl-sq1")
    assert assigned.status_code == 200, assigned.get_json()
    with site.factory() as session:
        assert session.get(InboxTask, triage.id).assignee == "sq-hs-jfl-sq1"
    unknown = act(client, admin, instance_id, "reassign", reason="x", task_id=triage.id, assignee="nobody-here")
    assert unknown.status_code == 422 and unknown.get_json()["errors"][0]["field"] == "assignee"

    with write_session(site.factory) as session:
        runtime.complete(session, triage.id, {"route": "hard", "reply": "提交联席会议研究。"}, actor="test")
    detail = client.get(f"/api/v1/instances/{instance_id}", headers=admin).get_json()
    assert [t["task"] for t in detail["timers"]] == ["wait_meeting"] and detail["timers"][0]["due_at"]
    assert "wait_meeting" in detail["elements"]["waiting"]
    web = logged_in(site.app, "admin")
    assert 'data-testid="timers"' in web.get(f"/admin/instances/{instance_id}").get_data(as_text=True)
    fired = act(client, admin, instance_id, "fire_timer", reason="会议提前召开", task_uuid=detail["timers"][0]["task_uuid"])
    assert fired.status_code == 200, fired.get_json()
    assert [t.task for t in ready(site.factory, instance_id)] == ["joint_meeting"]
    with site.factory() as session:
        reasons = session.scalars(select(AuditEvent.reason).where(AuditEvent.instance_id == instance_id)).all()
    assert "会议提前召开" in reasons and "请专人研判" in reasons
    assert act(client, admin, instance_id, "explode", reason="x").status_code == 404
    assert act(client, admin, 999999, "suspend", reason="x").status_code == 404


def test_directory_and_officers(site):
    web = logged_in(site.app, "admin")
    assert "湖北路社区" in web.get("/admin/directory?kind=community").get_data(as_text=True)
    post_form(web, "/admin/directory", {"id": "hs-test-sq", "kind": "community", "name": "测试社区",
                                        "parent_id": "hs-jfl", "categories": ""}, page="/admin/directory")
    with site.factory() as session:
        assert session.get(Unit, "hs-test-sq").name == "测试社区"
    post_form(web, "/admin/directory/hs-test-sq/active", {"active": "0"}, page="/admin/directory")
    with site.factory() as session:
        assert session.get(Unit, "hs-test-sq").active is False
    bad = io.BytesIO("id,kind,name,parent_id\nBAD ID,planet,,\n".encode())
    token_page = web.get("/admin/directory").get_data(as_text=True)
    from tests.webkit import csrf_token
    response = web.post("/admin/directory/import", data={"csrf_token": csrf_token(token_page), "file": (bad, "units.csv")},
                        content_type="multipart/form-data")
    assert response.status_code == 302
    assert "第 2 行" in web.get("/admin/directory").get_data(as_text=True)

    post_form(web, "/admin/officers", {"username": "new-officer", "display_name": "新同志", "password": "longpassword",
                                       "role": "policy_staff", "unit_id": ""}, page="/admin/officers")
    assert "已新建用户 new-officer" in web.get("/admin/officers").get_data(as_text=True)
    post_form(web, "/admin/officers/new-officer/password", {"password": "short"}, page="/admin/officers")
    assert "密码至少 8 位" in web.get("/admin/officers").get_data(as_text=True)
    post_form(web, "/admin/officers/new-officer/password", {"password": "anotherlongone"}, page="/admin/officers")
    client = site.app.test_client()
    assert client.post("/api/v1/session", json={"username": "new-officer", "password": "anotherlongone"}).status_code == 200
    post_form(web, "/admin/officers/new-officer/active", {"active": "0"}, page="/admin/officers")
    with site.factory() as session:
        assert session.scalar(select(Officer.active).where(Officer.username == "new-officer")) is False
    assert client.post("/api/v1/session", json={"username": "new-officer", "password": "anotherlongone"}).status_code == 401
