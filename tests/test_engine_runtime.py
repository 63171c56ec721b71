"""Running instances: steps are transactions; the inbox, timers, incidents and audit follow them."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engine import runtime
from engine.db import write_session
from engine.errors import FormInvalid, InstanceNotActive, TaskNotReady
from engine.models import InboxTask, Instance
from tests import enginekit as kit
from tests.enginekit import bpmn, flow, service_task, user_task

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def factory(session_factory):
    kit.deploy_files(session_factory, kit.approval_files())
    kit.calls.clear()
    kit.failing["record"] = False
    return session_factory


def test_start_puts_the_first_task_in_the_inbox_of_its_role_and_unit(factory):
    instance_id = kit.start(factory, data={"clerk_unit": "front-desk"})
    [row] = kit.inbox(factory, instance_id)
    assert (row.task, row.role, row.unit_id, row.form) == ("submit", "clerk", "front-desk", "submit.json")
    assert kit.get_instance(factory, instance_id).status == "running"


def test_complete_moves_the_task_to_the_next_role_and_unit(factory):
    instance_id = kit.start(factory)
    [row] = kit.inbox(factory, instance_id)
    kit.complete(factory, row.id, {"amount": 5, "team_id": "team-9"})
    [review] = kit.inbox(factory, instance_id)
    assert (review.task, review.role, review.unit_id) == ("review", "manager", "team-9")


def test_invalid_form_data_is_refused_and_changes_nothing(factory):
    instance_id = kit.start(factory)
    [row] = kit.inbox(factory, instance_id)
    before = kit.get_instance(factory, instance_id)
    audit_before = len(kit.audit_trail(factory, instance_id))
    with pytest.raises(FormInvalid) as info:
        kit.complete(factory, row.id, {"amount": 0, "extra": "x"})
    fields = {e.field for e in info.value.errors}
    assert {"amount", "team_id", "extra"} <= fields
    after = kit.get_instance(factory, instance_id)
    assert (after.lock_version, after.state) == (before.lock_version, before.state)
    assert [r.id for r in kit.inbox(factory, instance_id)] == [row.id]
    assert len(kit.audit_trail(factory, instance_id)) == audit_before


def test_double_submission_is_refused_as_not_ready(factory):
    instance_id = kit.start(factory)
    [row] = kit.inbox(factory, instance_id)
    kit.complete(factory, row.id, {"amount": 5, "team_id": "t"})
    with pytest.raises(TaskNotReady):
        kit.complete(factory, row.id, {"amount": 6, "team_id": "t"})


def test_two_concurrent_completions_of_one_task_exactly_one_succeeds(factory):
    instance_id = kit.start(factory)
    [row] = kit.inbox(factory, instance_id)
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt(amount):
        barrier.wait()
        try:
            kit.complete(factory, row.id, {"amount": amount, "team_id": "t"})
            outcomes.append("ok")
        except TaskNotReady:
            outcomes.append("not ready")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["not ready", "ok"]
    assert [r.task for r in kit.inbox(factory, instance_id)] == ["review"]
    completes = [a for a in kit.audit_trail(factory, instance_id) if a.action == "complete"]
    assert len(completes) == 1


def test_a_task_of_another_instance_cannot_be_completed_through_a_stale_id(factory):
    first = kit.start(factory)
    [row] = kit.inbox(factory, first)
    with pytest.raises(TaskNotReady):
        kit.complete(factory, "00000000-0000-0000-0000-000000000000", {"amount": 1, "team_id": "t"})
    assert kit.inbox(factory, first)[0].id == row.id


def test_boundary_timer_gets_an_indexed_due_time_and_fires_at_it(factory):
    instance_id = kit.start(factory, now=T0)
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"amount": 5, "team_id": "t"}, now=T0)
    [timer] = kit.timers(factory, instance_id)
    assert timer.task == "review_late" and timer.due_at == T0 + timedelta(days=2)
    from engine.timers import sweep
    assert sweep(factory, now=T0 + timedelta(days=1)).fired == []
    result = sweep(factory, now=T0 + timedelta(days=2, seconds=1))
    assert result.fired == [instance_id]
    assert kit.calls == [("remind", instance_id, "manager")]
    assert kit.timers(factory, instance_id) == []
    # non-interrupting: the review is still waiting
    assert [r.task for r in kit.inbox(factory, instance_id)] == ["review"]
    timer_events = [a for a in kit.audit_trail(factory, instance_id) if a.action == "timer"]
    assert timer_events and timer_events[0].is_system and timer_events[0].detail["timers"] == ["review_late"]


def test_a_timer_swept_by_two_workers_at_once_fires_once(factory):
    from engine.timers import sweep
    instance_id = kit.start(factory, now=T0)
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"amount": 5, "team_id": "t"}, now=T0)
    barrier = threading.Barrier(2)
    results = []

    def work():
        barrier.wait()
        results.append(sweep(factory, now=T0 + timedelta(days=3)))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(len(r.fired) for r in results) == 1
    assert [c for c in kit.calls if c[0] == "remind"] == [("remind", instance_id, "manager")]


def test_failing_handler_records_an_incident_and_leaves_the_instance_as_before(factory):
    instance_id = kit.start(factory)
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"amount": 7, "team_id": "t"})
    [review] = kit.inbox(factory, instance_id)
    before = kit.get_instance(factory, instance_id)
    kit.failing["record"] = True
    instance = kit.complete(factory, review.id, {"decision": "approve"}, actor="bob")
    assert instance.status == "incident"
    after = kit.get_instance(factory, instance_id)
    assert after.state == before.state, "the step was rolled back"
    assert after.incident["task"] == "record" and "records office is closed" in after.incident["message"]
    assert [r.id for r in kit.inbox(factory, instance_id)] == [review.id]
    with pytest.raises(InstanceNotActive):
        kit.complete(factory, review.id, {"decision": "approve"})
    incident_events = [a for a in kit.audit_trail(factory, instance_id) if a.action == "incident"]
    assert len(incident_events) == 1 and incident_events[0].task == "record"

    kit.failing["record"] = False
    with write_session(factory) as session:
        retried = runtime.retry(session, instance_id, actor="admin", reason="office reopened")
        assert retried.status == "completed"
    assert ("record", 7) in kit.calls
    actions = [a.action for a in kit.audit_trail(factory, instance_id)]
    assert actions[-2:] == ["retry", "complete"]
    assert kit.inbox(factory, instance_id) == []


def test_every_step_is_audited_with_actor_task_and_data(factory):
    instance_id = kit.start(factory, data={"clerk_unit": "u1"})
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"amount": 5, "team_id": "t"}, actor="carol")
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"decision": "approve"}, actor="dave")
    trail = kit.audit_trail(factory, instance_id)
    assert [(a.action, a.actor, a.task) for a in trail] == [
        ("start", "alice", None), ("complete", "carol", "submit"), ("complete", "dave", "review")]
    assert trail[1].detail["data"] == {"amount": 5, "team_id": "t"}
    assert {"task": "record", "result": ["recorded"]} in trail[2].detail["ran"]
    assert kit.get_instance(factory, instance_id).status == "completed"


def _loop_diagram(condition: str = "True") -> dict:
    body = ('<bpmn:startEvent id="s"/>' + service_task("spin", "test.noop")
            + '<bpmn:exclusiveGateway id="again" default="out"/><bpmn:endEvent id="e"/>'
            + flow("f1", "s", "spin") + flow("f2", "spin", "again")
            + flow("back", "again", "spin", condition) + flow("out", "again", "e"))
    return {"loop.bpmn": bpmn(body, process_id="loop")}


def test_a_diagram_that_loops_forever_is_stopped_by_the_step_budget(factory):
    kit.deploy_files(factory, _loop_diagram())
    with write_session(factory) as session:
        instance = runtime.start(session, "loop", {})
        assert instance.status == "incident"
        assert "engine tasks in one step" in instance.incident["message"]


def test_an_expression_error_at_run_time_becomes_a_readable_incident(factory):
    kit.deploy_files(factory, _loop_diagram("missing_key == 1"))
    with write_session(factory) as session:
        instance = runtime.start(session, "loop", {})
        assert instance.status == "incident"
        assert "missing_key" in instance.incident["message"]


def test_messages_continue_a_waiting_instance(factory):
    body = ('<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait">'
            '<bpmn:messageEventDefinition messageRef="go"/></bpmn:intermediateCatchEvent>'
            + user_task("after") + flow("f1", "s", "wait") + flow("f2", "wait", "after")
            + '<bpmn:endEvent id="e"/>' + flow("f3", "after", "e"))
    kit.deploy_files(factory, {"m.bpmn": bpmn(body, "msg", extra='<bpmn:message id="go" name="go"/>')})
    instance_id = kit.start(factory, "msg", {"team_id": "t1"})
    assert kit.get_instance(factory, instance_id).status == "waiting"
    with write_session(factory) as session:
        runtime.send_message(session, instance_id, "go", {"note": "hi"}, actor="system")
    assert [r.task for r in kit.inbox(factory, instance_id)] == ["after"]


def test_inbox_is_an_indexed_query_by_role_and_unit(factory):
    for unit in ("a", "b", "a"):
        kit.start(factory, data={"clerk_unit": unit})
    with factory() as session:
        rows = session.scalars(select(InboxTask).where(InboxTask.role == "clerk", InboxTask.unit_id == "a")).all()
        assert len(rows) == 2
        plan = session.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM inbox_tasks WHERE role='clerk' AND unit_id='a'"
        ).fetchall() if session.get_bind().dialect.name == "sqlite" else None
    if plan is not None:
        assert any("ix_inbox_role_unit" in str(row) for row in plan)


def test_spec_is_not_embedded_in_instance_state(factory):
    import json
    import zlib
    instance_id = kit.start(factory)
    state = json.loads(zlib.decompress(kit.get_instance(factory, instance_id).state))
    assert "spec" not in state and "subprocess_specs" not in state
    assert "task_specs" not in json.dumps(state)


def test_a_stale_writer_of_an_instance_gets_a_conflict(factory):
    from sqlalchemy.orm.exc import StaleDataError
    instance_id = kit.start(factory)
    [row] = kit.inbox(factory, instance_id)
    with factory() as stale:
        stale_instance = stale.get(Instance, instance_id)
        stale.commit()                      # its read is over; it keeps the version it saw
        kit.complete(factory, row.id, {"amount": 1, "team_id": "t"})
        stale_instance.status = "suspended"
        with pytest.raises(StaleDataError):
            stale.commit()
    instance = kit.get_instance(factory, instance_id)
    assert instance.status == "running" and [r.task for r in kit.inbox(factory, instance_id)] == ["review"]
