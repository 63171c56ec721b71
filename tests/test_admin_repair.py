"""Issue 9: an incident caused by submitted data is repaired by the administrator, either by
correcting the stored submission and retrying (which then uses the corrected data), or by handing
the task back to its officer with a reason (the officer sees the reason and submits again). Both
are audited; the officer works through the web inbox and task page, the administrator through the
instance page (CSRF, confirmation) and the admin API."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import runtime
from engine.db import write_session
from engine.models import AuditEvent, Instance
from governance.models import Notice
from tests.policy_kit import COMMUNITY, NS, OFFICER, logged_in, policy_site, post_form, token, upload
from tests.webkit import ready

# a form that says nothing about the sign of the amount (as a form deployed before its rule was written)
AMOUNT_FORM = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "登记金额", "type": "object",
               "properties": {"amount": {"type": "integer", "title": "金额"}}, "required": ["amount"],
               "additionalProperties": False}

ENTER = f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS} id="enter_defs" targetNamespace="http://whistle.example/test/enter">
<bpmn:process id="enter_amount" name="登记金额流程" isExecutable="true">
<bpmn:startEvent id="start"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="enter"/>
<bpmn:userTask id="enter" name="登记金额"><bpmn:extensionElements><spiffworkflow:properties>
<spiffworkflow:property name="formJsonSchemaFilename" value="enter_amount.json"/>
<spiffworkflow:property name="role" value="community"/>
</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>
<bpmn:sequenceFlow id="f2" sourceRef="enter" targetRef="record"/>
<bpmn:serviceTask id="record" name="登记"><bpmn:extensionElements>
<spiffworkflow:serviceTaskOperator id="probe.record"><spiffworkflow:parameters>
<spiffworkflow:parameter id="amount" type="int" value="amount"/>
</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>
<bpmn:sequenceFlow id="f3" sourceRef="record" targetRef="review"/>
<bpmn:userTask id="review" name="复核"><bpmn:extensionElements><spiffworkflow:properties>
<spiffworkflow:property name="formJsonSchemaFilename" value="triage.json"/>
<spiffworkflow:property name="role" value="community"/>
</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>
<bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="end"/>
<bpmn:endEvent id="end"/>
</bpmn:process>
</bpmn:definitions>
'''


@pytest.fixture
def site(db_url, tmp_path):
    with policy_site(db_url, tmp_path) as s:
        (s.forms / "enter_amount.json").write_text(json.dumps(AMOUNT_FORM, ensure_ascii=False), encoding="utf-8")
        client = s.app.test_client()
        assert upload(client, token(client, "policy"), {"enter_amount.bpmn": ENTER}).status_code == 201
        yield s


def _failed_submission(site):
    """The community officer submits a negative amount through the task page: the handler refuses
    it, the step is rolled back and the instance is an incident that keeps the submission."""
    with write_session(site.factory) as session:
        instance_id = runtime.start(session, "enter_amount", {"community_id": COMMUNITY}, actor="test").id
    (task,) = ready(site.factory, instance_id)
    officer = logged_in(site.app, OFFICER)
    assert f"/tasks/{task.id}" in officer.get("/inbox").get_data(as_text=True)
    post_form(officer, f"/tasks/{task.id}", {"amount": "-5"}, page=f"/tasks/{task.id}")
    with site.factory() as session:
        instance = session.get(Instance, instance_id)
        assert instance.status == "incident" and instance.incident["action"]["data"] == {"amount": -5}
    return instance_id, task.id, officer


def _trail(site, instance_id):
    with site.factory() as session:
        return [(a.action, a.actor, a.reason, a.detail) for a in
                session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id))]


def test_an_incident_caused_by_data_is_repaired_by_editing_the_submission(site):
    instance_id, task_id, _officer = _failed_submission(site)
    admin = logged_in(site.app, "admin")
    page = f"/admin/instances/{instance_id}"
    shown = admin.get(page).get_data(as_text=True)
    assert 'data-testid="data-incident"' in shown and "修改提交内容并重试" in shown and '"amount": -5' in shown

    # a correction the form refuses changes nothing; one without reason neither
    post_form(admin, f"{page}/edit_submission", {"reason": "金额应为正数", "data": '{"amount": "五"}'}, page=page)
    post_form(admin, f"{page}/edit_submission", {"reason": "", "data": '{"amount": 5}'}, page=page)
    with site.factory() as session:
        instance = session.get(Instance, instance_id)
        assert instance.status == "incident" and instance.incident["action"]["data"] == {"amount": -5}

    post_form(admin, f"{page}/edit_submission", {"reason": "经办人漏填负号以外的数字，按原始凭证改为 5",
                                                 "data": '{"amount": 5}'}, page=page)
    assert "已执行“修改提交内容并重试”" in admin.get(page).get_data(as_text=True)
    with site.factory() as session:
        instance = session.get(Instance, instance_id)
        assert instance.status == "running" and instance.incident is None
        assert runtime.instance_data(session, instance)["recorded"] == 5     # the step ran with the corrected data
    assert [t.task for t in ready(site.factory, instance_id)] == ["review"]
    edits = [(a, who, why, d) for a, who, why, d in _trail(site, instance_id) if a == "edit_submission"]
    assert edits == [("edit_submission", "admin", "经办人漏填负号以外的数字，按原始凭证改为 5",
                      {"task_uuid": task_id, "before": {"amount": -5}, "after": {"amount": 5}})]
    assert [a for a, *_ in _trail(site, instance_id)][-2:] == ["retry", "complete"]


def test_an_incident_caused_by_data_is_handed_back_to_the_officer_with_a_reason(site):
    instance_id, task_id, officer = _failed_submission(site)
    client = site.app.test_client()
    admin = token(client, "admin")
    missing = client.post(f"/api/v1/instances/{instance_id}/hand_back", headers=admin, json={"reason": " "})
    assert missing.status_code == 422 and missing.get_json()["errors"][0]["field"] == "reason"
    handed = client.post(f"/api/v1/instances/{instance_id}/hand_back", headers=admin,
                         json={"reason": "金额不能为负数，请按原始凭证重新填写"})
    assert handed.status_code == 200 and handed.get_json()["status"] == "running", handed.get_json()

    # the same task waits for the same unit's officers again, who are told why
    (task,) = ready(site.factory, instance_id)
    assert (task.id, task.task, task.role, task.unit_id) == (task_id, "enter", "community", COMMUNITY)
    assert f"/tasks/{task_id}" in officer.get("/inbox").get_data(as_text=True)
    form = officer.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'data-testid="handed-back"' in form and "金额不能为负数，请按原始凭证重新填写" in form
    with site.factory() as session:
        notices = session.scalars(select(Notice).where(Notice.unit_id == COMMUNITY, Notice.kind == "handed_back")).all()
        assert len(notices) == 1 and "金额不能为负数" in notices[0].text

    # a second hand-back has nothing to hand back: the instance has no incident any more
    again = client.post(f"/api/v1/instances/{instance_id}/hand_back", headers=admin, json={"reason": "再退"})
    assert again.status_code == 409

    post_form(officer, f"/tasks/{task_id}", {"amount": "7"}, page=f"/tasks/{task_id}")
    with site.factory() as session:
        instance = session.get(Instance, instance_id)
        assert instance.status == "running" and runtime.instance_data(session, instance)["recorded"] == 7
    assert [t.task for t in ready(site.factory, instance_id)] == ["review"]
    trail = _trail(site, instance_id)
    (hand_back,) = [t for t in trail if t[0] == "hand_back"]
    assert hand_back[1:3] == ("admin", "金额不能为负数，请按原始凭证重新填写")
    assert hand_back[3]["data"] == {"amount": -5} and hand_back[3]["unit_id"] == COMMUNITY
    assert [a for a, *_ in trail][-1] == "complete"
