"""The handlers inside the real engine: a diagram issues an order, the R8 report timer fires at
`report_due` and `escalation.overdue` flags and escalates it."""
import json
from datetime import datetime, timedelta

from sqlalchemy import select

import handlers  # noqa: F401
from engine import runtime
from engine.clock import frozen_at
from engine.deploy import deploy
from engine.models import InboxTask, Instance
from governance import register
from governance.calendar import TZ, iso
from governance.demo import load_demo
from governance.models import Notice

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs" targetNamespace="http://example.org/handling-test">
  <bpmn:process id="whistle" name="派单与报到（测试）" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="district_org" name="区委组织部">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>issue_order</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>flag_late</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>late_end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="department" name="部门">
        <bpmn:flowNodeRef>report_for_duty</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>report_late</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="issue_order" name="签发任务单">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="dispatch.issue_order">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="level" type="str" value="'district'"/>
            <spiffworkflow:parameter id="lead_department_id" type="str" value="'hs-cgj'"/>
            <spiffworkflow:parameter id="cooperating_department_ids" type="list" value="[]"/>
            <spiffworkflow:parameter id="completion_period" type="str" value="'P3M'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="report_for_duty" name="报到">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="report_for_duty.json"/>
        <spiffworkflow:property name="unit" value="lead_department_id"/>
        <spiffworkflow:property name="due" value="report_due"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="report_late" attachedToRef="report_for_duty" cancelActivity="false">
      <bpmn:outgoing>f_late</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDate>report_due</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:serviceTask id="flag_late" name="逾期报到">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="escalation.overdue">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="kind" type="str" value="'report'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f_late</bpmn:incoming><bpmn:outgoing>f_late2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="late_end"><bpmn:incoming>f_late2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="issue_order"/>
    <bpmn:sequenceFlow id="f2" sourceRef="issue_order" targetRef="report_for_duty"/>
    <bpmn:sequenceFlow id="f3" sourceRef="report_for_duty" targetRef="end"/>
    <bpmn:sequenceFlow id="f_late" sourceRef="report_late" targetRef="flag_late"/>
    <bpmn:sequenceFlow id="f_late2" sourceRef="flag_late" targetRef="late_end"/>
  </bpmn:process>
</bpmn:definitions>
"""
FORM = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {"work_plan": {"type": "string"}}, "additionalProperties": False}
START = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)




def test_r08_report_timer_fires_at_report_due_and_escalates(session, tmp_path):
    (tmp_path / "report_for_duty.json").write_text(json.dumps(FORM), encoding="utf-8")
    load_demo(session)
    deploy(session, {"whistle.bpmn": BPMN.encode()}, forms_dir=tmp_path, actor="test")
    session.commit()
    with frozen_at(START):
        w = register.report_whistle(session, title="路面塌陷", description="人行道塌陷", category="道路设施",
                                    community_id="hs-jfl-sq2", location="花园路", reporter="居民",
                                    source="api", actor="api")
    session.commit()
    instance = session.get(Instance, w.instance_id)
    assert instance.status == "running", instance.incident
    data = runtime.instance_data(session, instance)
    assert data["task_order_no"] == "RWD-HS-2026-0001"
    assert data["report_due"] == "2026-12-07T17:30:00+08:00" == iso(w.report_due)   # end of the working day
    assert data["complete_due"] == "2027-03-01T17:30:00+08:00"     # the quarter; 28 Feb 2027 is a Sunday
    task = session.scalars(select(InboxTask).where(InboxTask.instance_id == instance.id)).one()
    assert (task.task, task.role, task.unit_id) == ("report_for_duty", "department", "hs-cgj")

    runtime.fire_timers(session, instance.id, now=START + timedelta(days=6))
    session.commit()
    assert not session.scalars(select(Notice).where(Notice.kind == "report_overdue")).all()
    runtime.fire_timers(session, instance.id, now=START + timedelta(days=7, hours=7, minutes=30, seconds=1))
    session.commit()
    session.refresh(instance)
    assert instance.status == "running", instance.incident
    session.refresh(w)
    assert w.report_overdue
    units = sorted(n.unit_id for n in session.scalars(select(Notice).where(Notice.kind == "report_overdue")))
    assert units == ["hs", "hs-jfl-sq2"]
