"""The whistle register: intake with the engine (R1), numbers, stages and replies (R19)."""
import json
import threading
from datetime import datetime

import pytest
from sqlalchemy import select

import handlers  # noqa: F401  (registers handlers and roles)
from engine import runtime
from engine.clock import frozen_at
from engine.db import write_session
from engine.deploy import deploy
from engine.models import InboxTask, Instance
from governance import register
from governance.calendar import TZ
from governance.demo import load_demo
from governance.models import Whistle
from governance.numbering import task_order_no, whistle_no

WHISTLE_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs" targetNamespace="http://example.org/whistle-test">
  <bpmn:process id="whistle" name="吹哨（测试）" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="community" name="社区">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>set_stage</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>triage</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>close</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="set_stage" name="登记">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="case.update">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="stage" type="str" value="'triage'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="triage" name="社区研判">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="triage.json"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:serviceTask id="close" name="办结">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="case.close">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="reply" type="str" value="reply"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="set_stage"/>
    <bpmn:sequenceFlow id="f2" sourceRef="set_stage" targetRef="triage"/>
    <bpmn:sequenceFlow id="f3" sourceRef="triage" targetRef="close"/>
    <bpmn:sequenceFlow id="f4" sourceRef="close" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
TRIAGE_FORM = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
               "properties": {"route": {"type": "string", "enum": ["local", "street", "hard"]},
                              "reply": {"type": "string"}},
               "required": ["route", "reply"], "additionalProperties": False}




@pytest.fixture
def deployed(session, tmp_path):
    (tmp_path / "triage.json").write_text(json.dumps(TRIAGE_FORM), encoding="utf-8")
    load_demo(session)
    deploy(session, {"whistle.bpmn": WHISTLE_BPMN.encode()}, forms_dir=tmp_path, actor="test")
    session.commit()
    return session


def _report(session, **overrides):
    args = dict(title="路灯不亮", description="湖北路社区3栋旁路灯连续一周不亮", category="明灯",
                community_id="hs-jfl-sq1", location="湖北路3栋", reporter="张师傅", source="patrol",
                attachments=["photo-1.jpg"], actor="wg-hs-jfl-sq1")
    args.update(overrides)
    return register.report_whistle(session, **args)


def test_r01_report_registers_whistle_and_starts_instance_in_one_transaction(deployed):
    session = deployed
    with frozen_at(datetime(2026, 10, 9, 9, 30, tzinfo=TZ)):
        w = _report(session)
    session.commit()
    assert w.whistle_no == "HS-2026-000001"
    assert (w.street_id, w.district_id) == ("hs-jfl", "hs")
    instance = session.get(Instance, w.instance_id)
    assert instance.business_key == w.whistle_no and instance.status == "running", instance.incident
    data = runtime.instance_data(session, instance)
    assert data["whistle_id"] == w.id and data["city_id"] == "mas" and data["district_id"] == "hs"
    task = session.scalars(select(InboxTask).where(InboxTask.instance_id == instance.id)).one()
    assert (task.task, task.role, task.unit_id) == ("triage", "community", "hs-jfl-sq1")
    # complete triage: the diagram's case.close closes the register with the officer's reply
    runtime.complete(session, task.id, {"route": "local", "reply": "已联系供电公司修复"}, actor="sq-hs-jfl-sq1")
    session.commit()
    session.refresh(w)
    assert w.stage == "closed" and w.closed_at is not None
    replies = [e["reply"] for e in register.public_timeline(session, w)]
    assert replies[0].startswith("您反映的问题已受理，编号 HS-2026-000001")
    assert replies[-1] == "已联系供电公司修复"


def test_r01_failed_start_leaves_no_register_row(session):
    load_demo(session)
    session.commit()
    with pytest.raises(Exception):
        _report(session)     # process 'whistle' is not deployed here
    session.rollback()
    assert session.scalars(select(Whistle)).first() is None


def test_r01_report_validation(deployed):
    with pytest.raises(register.RegisterError):
        _report(deployed, source="fax")
    with pytest.raises(register.RegisterError):
        _report(deployed, title="  ")
    with pytest.raises(register.RegisterError):
        _report(deployed, community_id="hs-jfl")      # a street


def test_whistle_numbers_per_district_and_year(deployed):
    session = deployed
    with frozen_at(datetime(2026, 12, 31, 23, 0, tzinfo=TZ)):
        a = _report(session)
        b = _report(session, community_id="ys-am-sq1")
        c = _report(session)
    with frozen_at(datetime(2027, 1, 1, 0, 30, tzinfo=TZ)):
        d = _report(session)
    session.commit()
    assert [a.whistle_no, b.whistle_no, c.whistle_no, d.whistle_no] == [
        "HS-2026-000001", "YS-2026-000001", "HS-2026-000002", "HS-2027-000001"]
    assert task_order_no(session, "city", "hs", datetime(2026, 5, 1, tzinfo=TZ)) == "RWD-MAS-2026-0001"
    assert task_order_no(session, "district", "hs", datetime(2026, 5, 1, tzinfo=TZ)) == "RWD-HS-2026-0001"


def test_numbers_are_unique_under_concurrency(session_factory):
    results, errors = [], []

    def worker():
        try:
            for _ in range(10):
                with write_session(session_factory) as s:
                    results.append(whistle_no(s, "hs", datetime(2026, 6, 1, tzinfo=TZ)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [f"HS-2026-{i:06d}" for i in range(1, 41)]


def test_r19_stages_and_replies_on_the_record(deployed):
    session = deployed
    w = _report(session)
    register.record_stage(session, w, "street", actor="sq-hs-jfl-sq1")
    register.record_reply(session, w, "街道已约谈供电公司", actor="jd-hs-jfl")
    register.record_stage(session, w, "street_review", reply="已转街道审核，预计下周答复")
    session.commit()
    record = register.whistle_record(session, w.whistle_no)
    assert record["stage"] == "street_review" and record["stage_name"] == "街道审核"
    assert record["community_name"] == "湖北路社区" and record["district_name"] == "花山区"
    public = register.public_timeline(session, w)
    assert [p["reply"] for p in public][-3:] == [register.STAGE_REPLIES["street"], "街道已约谈供电公司",
                                                 "已转街道审核，预计下周答复"]
    assert all("actor" not in p for p in public)
    assert register.get_whistle(session, str(w.id)) is w
    assert register.list_whistles(session, community_id="hs-jfl-sq1")[0] is w
    with pytest.raises(register.RegisterError):
        register.record_reply(session, w, " ")
