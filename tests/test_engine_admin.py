"""Administrators' tools: suspend/resume, cancel, fire a timer now, reassign, edit data, migrate to
a newer version, the per-element overview and the instance listing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from engine import admin
from engine.db import write_session
from engine.errors import InstanceNotActive, TaskNotReady
from engine.models import InboxTask, Instance, ProcessVersion
from engine.timers import sweep
from tests import enginekit as kit
from tests.test_deploy_call_io import io_spec

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
APPROVAL = (kit.DIAGRAMS / "approval.bpmn").read_text()
CHECK_TASK = '''<bpmn:userTask id="check" name="Check">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="review.json"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f_chk" sourceRef="check" targetRef="record"/>
    <bpmn:endEvent id="end">'''


def variant(*replacements) -> dict[str, bytes]:
    text = APPROVAL
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return {"approval.bpmn": text.encode()}


def with_check() -> dict[str, bytes]:
    """A new user task 'check' between the decision and 'record': only future tasks change."""
    return variant(('targetRef="record">', 'targetRef="check">'), ('<bpmn:endEvent id="end">', CHECK_TASK),
                   ("<bpmn:flowNodeRef>end</bpmn:flowNodeRef>",
                    "<bpmn:flowNodeRef>end</bpmn:flowNodeRef><bpmn:flowNodeRef>check</bpmn:flowNodeRef>"))


def review_renamed() -> dict[str, bytes]:
    return variant(('<bpmn:userTask id="review" name="Review">', '<bpmn:userTask id="review" name="Review it">'))


def submit_renamed() -> dict[str, bytes]:
    return variant(('<bpmn:userTask id="submit" name="Submit">', '<bpmn:userTask id="submit" name="Hand in">'))


@pytest.fixture
def factory(session_factory):
    kit.deploy_files(session_factory, kit.approval_files())
    kit.calls.clear()
    kit.failing["record"] = False
    return session_factory


def at_review(factory, now=T0, team="t1", amount=5) -> int:
    """An instance whose 'submit' is done: 'review' is ready and its reminder timer armed."""
    instance_id = kit.start(factory, now=now)
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"amount": amount, "team_id": team}, now=now)
    return instance_id


def act(factory, fn, *args, **kwargs):
    with write_session(factory) as session:
        return fn(session, *args, **kwargs)


def version_id(factory, number: int, process_id="approval") -> int:
    with factory() as session:
        return session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == process_id,
                                                              ProcessVersion.version == number))


def actions(factory, instance_id) -> list[tuple]:
    return [(a.action, a.reason) for a in kit.audit_trail(factory, instance_id)]


# -- suspend, resume, cancel ---------------------------------------------------------------------

def test_suspend_blocks_completion_and_timers_and_resume_restores_both(factory):
    instance_id = at_review(factory)
    [review] = kit.inbox(factory, instance_id)
    act(factory, admin.suspend, instance_id, reason="citizen asked to pause", actor="admin")
    assert kit.get_instance(factory, instance_id).status == "suspended"
    with pytest.raises(InstanceNotActive):
        kit.complete(factory, review.id, {"decision": "approve"})
    assert sweep(factory, now=T0 + timedelta(days=3)).fired == []
    assert kit.calls == [] and len(kit.timers(factory, instance_id)) == 1
    with pytest.raises(InstanceNotActive):
        act(factory, admin.suspend, instance_id, reason="again")

    act(factory, admin.resume, instance_id, reason="go on", actor="admin")
    assert kit.get_instance(factory, instance_id).status == "running"
    assert sweep(factory, now=T0 + timedelta(days=3)).fired == [instance_id]
    assert kit.calls == [("remind", instance_id, "manager")]
    kit.complete(factory, review.id, {"decision": "approve"})
    assert kit.get_instance(factory, instance_id).status == "completed"
    assert ("suspend", "citizen asked to pause") in actions(factory, instance_id)
    assert ("resume", "go on") in actions(factory, instance_id)


def test_a_suspended_incident_resumes_as_an_incident(factory):
    instance_id = at_review(factory)
    kit.failing["record"] = True
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"decision": "approve"})
    act(factory, admin.suspend, instance_id, reason="investigating")
    act(factory, admin.resume, instance_id, reason="done investigating")
    assert kit.get_instance(factory, instance_id).status == "incident"
    kit.failing["record"] = False
    assert act(factory, admin.retry, instance_id, reason="office reopened").status == "completed"
    assert ("retry", "office reopened") in actions(factory, instance_id)


def test_cancel_clears_inbox_and_timers_and_ends_the_instance(factory):
    instance_id = at_review(factory)
    [review] = kit.inbox(factory, instance_id)
    act(factory, admin.cancel, instance_id, reason="reported twice", actor="admin")
    instance = kit.get_instance(factory, instance_id)
    assert instance.status == "cancelled" and instance.ended_at is not None
    assert kit.inbox(factory, instance_id) == [] and kit.timers(factory, instance_id) == []
    with pytest.raises(TaskNotReady):
        kit.complete(factory, review.id, {"decision": "approve"})
    with pytest.raises(InstanceNotActive):
        act(factory, admin.cancel, instance_id, reason="again")
    [event] = [a for a in kit.audit_trail(factory, instance_id) if a.action == "cancel"]
    assert event.reason == "reported twice" and event.detail["open_tasks"] == ["review"]
    with factory() as session:
        assert admin.instance_detail(session, instance_id)["status"] == "cancelled"


# -- timers, assignment, data --------------------------------------------------------------------

def test_fire_timer_now_fires_a_timer_that_is_not_due(factory):
    instance_id = at_review(factory)
    [timer] = kit.timers(factory, instance_id)
    assert timer.due_at == T0 + timedelta(days=2)
    with pytest.raises(TaskNotReady):
        act(factory, admin.fire_timer_now, instance_id, kit.inbox(factory, instance_id)[0].id, reason="test")
    act(factory, admin.fire_timer_now, instance_id, timer.task_uuid, reason="deadline moved up", actor="admin",
        now=T0 + timedelta(hours=1))
    assert kit.calls == [("remind", instance_id, "manager")]
    assert kit.timers(factory, instance_id) == []
    assert [r.task for r in kit.inbox(factory, instance_id)] == ["review"]
    trail = kit.audit_trail(factory, instance_id)
    assert [a.action for a in trail][-2:] == ["fire_timer_now", "timer"]
    assert trail[-2].reason == "deadline moved up" and trail[-2].task == "review_late"
    assert trail[-2].detail["due_was"] == (T0 + timedelta(days=2)).isoformat()


def test_fire_timer_now_is_refused_while_suspended(factory):
    instance_id = at_review(factory)
    [timer] = kit.timers(factory, instance_id)
    act(factory, admin.suspend, instance_id, reason="pause")
    with pytest.raises(InstanceNotActive):
        act(factory, admin.fire_timer_now, instance_id, timer.task_uuid, reason="now")
    assert kit.calls == []


def test_reassign_sets_the_assignee_and_is_audited(factory):
    instance_id = at_review(factory)
    [review] = kit.inbox(factory, instance_id)
    act(factory, admin.reassign, review.id, "bob", reason="alice is on leave", actor="admin")
    assert kit.inbox(factory, instance_id)[0].assignee == "bob"
    act(factory, admin.reassign, review.id, "carol", reason="bob is busy")
    [first, second] = [a for a in kit.audit_trail(factory, instance_id) if a.action == "reassign"]
    assert (first.detail["before"], first.detail["after"], first.task) == (None, "bob", "review")
    assert (second.detail["before"], second.detail["after"], second.reason) == ("bob", "carol", "bob is busy")
    kit.complete(factory, review.id, {"decision": "approve"})
    with pytest.raises(TaskNotReady):
        act(factory, admin.reassign, review.id, "dave", reason="late")


def test_data_can_be_edited_only_while_suspended(factory):
    instance_id = at_review(factory, team="team-1", amount=5)
    with pytest.raises(InstanceNotActive):
        act(factory, admin.edit_data, instance_id, {"amount": 9}, reason="typo")
    act(factory, admin.suspend, instance_id, reason="fix data")
    result = act(factory, admin.edit_data, instance_id, {"amount": 9, "team_id": "team-2"},
                 reason="wrong amount and team", actor="admin")
    assert result["before"] == {"amount": 5, "team_id": "team-1"}
    assert result["after"] == {"amount": 9, "team_id": "team-2"}
    assert kit.get_instance(factory, instance_id).status == "suspended"
    # the inbox follows the data: review's unit comes from team_id
    assert [(r.task, r.unit_id) for r in kit.inbox(factory, instance_id)] == [("review", "team-2")]
    [event] = [a for a in kit.audit_trail(factory, instance_id) if a.action == "edit_data"]
    assert event.detail["before"]["amount"] == 5 and event.detail["after"]["amount"] == 9
    assert event.reason == "wrong amount and team"
    act(factory, admin.resume, instance_id, reason="fixed")
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"decision": "approve"})
    assert ("record", 9) in kit.calls


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_an_empty_reason_is_refused_and_changes_nothing(factory, reason):
    instance_id = at_review(factory)
    [review] = kit.inbox(factory, instance_id)
    [timer] = kit.timers(factory, instance_id)
    before = kit.get_instance(factory, instance_id)
    trail = len(kit.audit_trail(factory, instance_id))
    calls = [
        lambda s: admin.suspend(s, instance_id, reason=reason),
        lambda s: admin.resume(s, instance_id, reason=reason),
        lambda s: admin.cancel(s, instance_id, reason=reason),
        lambda s: admin.retry(s, instance_id, reason=reason),
        lambda s: admin.fire_timer_now(s, instance_id, timer.task_uuid, reason=reason),
        lambda s: admin.reassign(s, review.id, "bob", reason=reason),
        lambda s: admin.edit_data(s, instance_id, {"amount": 1}, reason=reason),
        lambda s: admin.migrate(s, instance_id, before.process_version_id, reason=reason),
        lambda s: admin.bulk_migrate(s, before.process_version_id, before.process_version_id, reason=reason),
    ]
    for call in calls:
        with pytest.raises(admin.ReasonRequired) as info:
            act(factory, call)
        assert "reason" in str(info.value)
    after = kit.get_instance(factory, instance_id)
    assert (after.status, after.lock_version) == (before.status, before.lock_version)
    assert len(kit.audit_trail(factory, instance_id)) == trail


# -- detail and overview -------------------------------------------------------------------------

def test_instance_detail_shows_tasks_timers_data_audit_and_elements(factory):
    instance_id = at_review(factory, team="team-7", amount=3)
    act(factory, admin.reassign, kit.inbox(factory, instance_id)[0].id, "bob", reason="expert")
    with factory() as session:
        detail = admin.instance_detail(session, instance_id)
    assert (detail["status"], detail["process_id"], detail["version"]) == ("running", "approval", 1)
    [task] = detail["active_tasks"]
    assert (task["task"], task["role"], task["unit_id"], task["assignee"]) == ("review", "manager", "team-7", "bob")
    [timer] = detail["timers"]
    assert timer["task"] == "review_late" and timer["due_at"] == T0 + timedelta(days=2)
    [waiting] = detail["waiting_tasks"]
    assert waiting["task"] == "review_late" and waiting["kind"] == "timer"
    assert detail["data"]["amount"] == 3 and detail["data"]["team_id"] == "team-7"
    assert [a["action"] for a in detail["audit"]] == ["start", "complete", "reassign"]
    elements = detail["elements"]
    assert {"start", "submit"} <= set(elements["completed"])
    assert elements["active"] == ["review"] and elements["waiting"] == ["review_late"]
    assert elements["failed"] == []


def test_instance_detail_names_the_failed_element(factory):
    instance_id = at_review(factory)
    kit.failing["record"] = True
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"decision": "approve"})
    with factory() as session:
        detail = admin.instance_detail(session, instance_id)
    assert detail["status"] == "incident" and detail["elements"]["failed"] == ["record"]


def test_process_overview_counts_instances_per_element(factory):
    at_submit = [kit.start(factory, now=T0) for _ in range(3)]
    reviewing = [at_review(factory) for _ in range(2)]
    failed = at_review(factory)
    kit.failing["record"] = True
    kit.complete(factory, kit.inbox(factory, failed)[0].id, {"decision": "approve"})
    done = at_review(factory)
    kit.failing["record"] = False
    kit.complete(factory, kit.inbox(factory, done)[0].id, {"decision": "approve"})
    act(factory, admin.suspend, reviewing[0], reason="pause")
    with factory() as session:
        overview = admin.process_overview(session, version_id(factory, 1))
    elements = overview["elements"]
    assert elements["submit"] == {"ready": 3, "waiting": 0, "incidents": 0}
    # the failed instance still has its review ready and its reminder armed
    assert elements["review"] == {"ready": 3, "waiting": 0, "incidents": 0}
    assert elements["review_late"] == {"ready": 0, "waiting": 3, "incidents": 0}
    assert elements["record"] == {"ready": 0, "waiting": 0, "incidents": 1}
    assert overview["statuses"] == {"running": 4, "suspended": 1, "incident": 1, "completed": 1}
    assert kit.get_instance(factory, at_submit[0]).status == "running"


# -- migration -----------------------------------------------------------------------------------

def test_migrate_is_refused_when_the_change_touches_a_ready_task(factory):
    instance_id = at_review(factory)
    kit.deploy_files(factory, review_renamed())
    v2 = version_id(factory, 2)
    before = kit.get_instance(factory, instance_id)
    with pytest.raises(admin.MigrationRefused) as info:
        act(factory, admin.migrate, instance_id, v2, reason="new wording", actor="admin")
    assert "'review'" in str(info.value) and "ready" in str(info.value)
    assert [p.task for p in info.value.problems] == ["review"]
    after = kit.get_instance(factory, instance_id)
    assert (after.process_version_id, after.state) == (before.process_version_id, before.state)
    with factory() as session:
        assert admin.check_migration(session, instance_id, v2)[0]["task"] == "review"


def test_migrate_is_refused_when_the_change_touches_a_completed_task(factory):
    instance_id = at_review(factory)
    kit.deploy_files(factory, submit_renamed())
    with pytest.raises(admin.MigrationRefused) as info:
        act(factory, admin.migrate, instance_id, version_id(factory, 2), reason="new wording")
    assert "'submit'" in str(info.value) and "already completed" in str(info.value)


def test_migrate_to_a_version_that_only_changes_future_tasks(factory):
    instance_id = at_review(factory, team="t1", amount=4)
    [review] = kit.inbox(factory, instance_id)
    [timer] = kit.timers(factory, instance_id)
    act(factory, admin.reassign, review.id, "bob", reason="expert")
    kit.deploy_files(factory, with_check())
    v2 = version_id(factory, 2)
    with factory() as session:
        assert admin.check_migration(session, instance_id, v2) == []
    instance = act(factory, admin.migrate, instance_id, v2, reason="add a check step", actor="admin")
    assert instance.process_version_id == v2
    migrated = kit.get_instance(factory, instance_id)
    assert (migrated.process_version_id, migrated.version.version, migrated.status) == (v2, 2, "running")
    # the running tasks are untouched: same task, same assignee, same timer due time
    [row] = kit.inbox(factory, instance_id)
    assert (row.id, row.assignee) == (review.id, "bob")
    [timer_after] = kit.timers(factory, instance_id)
    assert (timer_after.task_uuid, timer_after.due_at) == (timer.task_uuid, timer.due_at)
    [event] = [a for a in kit.audit_trail(factory, instance_id) if a.action == "migrate"]
    assert event.reason == "add a check step" and event.detail["to_version"] == 2
    assert "check" in event.detail["added"]
    with pytest.raises(admin.MigrationRefused):
        act(factory, admin.migrate, instance_id, v2, reason="twice")
    # the instance continues on the new version and meets the new element
    kit.complete(factory, review.id, {"decision": "approve"})
    assert [r.task for r in kit.inbox(factory, instance_id)] == ["check"]
    assert kit.calls == []
    kit.complete(factory, kit.inbox(factory, instance_id)[0].id, {"decision": "approve"})
    assert kit.get_instance(factory, instance_id).status == "completed"
    assert kit.calls == [("record", 4)]
    assert sweep(factory, now=T0 + timedelta(days=3)).fired == []     # the reminder ended with the review


def test_migrated_timer_fires_at_its_original_due_time(factory):
    instance_id = at_review(factory)
    kit.deploy_files(factory, with_check())
    act(factory, admin.migrate, instance_id, version_id(factory, 2), reason="add a check step")
    assert sweep(factory, now=T0 + timedelta(days=1)).fired == []
    assert sweep(factory, now=T0 + timedelta(days=2, seconds=1)).fired == [instance_id]
    assert kit.calls == [("remind", instance_id, "manager")]


def test_a_suspended_instance_stays_suspended_when_migrated(factory):
    instance_id = at_review(factory)
    act(factory, admin.suspend, instance_id, reason="pause")
    kit.deploy_files(factory, with_check())
    act(factory, admin.migrate, instance_id, version_id(factory, 2), reason="add a check step")
    assert kit.get_instance(factory, instance_id).status == "suspended"


def test_bulk_migrate_moves_what_it_can_and_explains_the_rest(factory):
    early = [kit.start(factory, now=T0) for _ in range(2)]       # 'review' is still to come
    late = at_review(factory)                                     # 'review' is ready now
    finished = at_review(factory)
    kit.complete(factory, kit.inbox(factory, finished)[0].id, {"decision": "reject"})
    kit.complete(factory, kit.inbox(factory, finished)[0].id, {"amount": 1, "team_id": "t"})
    kit.complete(factory, kit.inbox(factory, finished)[0].id, {"decision": "approve"})
    assert kit.get_instance(factory, finished).status == "completed"
    kit.deploy_files(factory, review_renamed())
    v1, v2 = version_id(factory, 1), version_id(factory, 2)
    result = act(factory, admin.bulk_migrate, v1, v2, reason="new wording", actor="admin")
    assert result["migrated"] == early
    [refused] = result["refused"]
    assert refused["instance_id"] == late and "'review'" in refused["reason"]
    assert [kit.get_instance(factory, i).process_version_id for i in early + [late, finished]] == [v2, v2, v1, v1]
    # a migrated instance runs the renamed task
    [row] = kit.inbox(factory, early[0])
    kit.complete(factory, row.id, {"amount": 2, "team_id": "t"})
    assert [r.name for r in kit.inbox(factory, early[0])] == ["Review it"]


# -- listing -------------------------------------------------------------------------------------

def _clone_instances(factory, template_id: int, n: int) -> list[int]:
    """n copies of an instance's row (direct inserts), spread over statuses, keys and start days."""
    statuses = ("running", "waiting", "completed", "incident")
    with write_session(factory) as session:
        tpl = session.get(Instance, template_id)
        rows = [{"process_version_id": tpl.process_version_id, "deployment_id": tpl.deployment_id,
                 "process_id": "approval" if i % 5 else "other", "status": statuses[i % 4], "state": tpl.state,
                 "lock_version": 1, "business_key": f"K{i % 50}", "started_by": "bulk",
                 "started_at": T0 + timedelta(hours=i), "updated_at": T0 + timedelta(hours=i)}
                for i in range(n)]
        session.execute(insert(Instance), rows)
        return list(session.scalars(select(Instance.id).where(Instance.started_by == "bulk").order_by(Instance.id)))


def test_listing_pages_are_stable_and_filtered_by_indexes(factory):
    template = kit.start(factory, now=T0)
    ids = _clone_instances(factory, template, 2000)
    approval_running = [i for n, i in enumerate(ids) if n % 5 and n % 4 == 0]

    with factory() as session:
        page = admin.list_instances(session, process_id="approval", status="running", limit=100)
        assert page.total == len(approval_running) + 1        # + the template
        seen = [r["id"] for r in page.rows]
        after = page.next_after_id
        # an instance started between two pages does not shift the next pages
    newcomer = kit.start(factory, now=T0)
    with factory() as session:
        while after is not None:
            page = admin.list_instances(session, process_id="approval", status="running", limit=100,
                                        after_id=after, with_total=False)
            seen += [r["id"] for r in page.rows]
            after = page.next_after_id
    assert seen == sorted(approval_running + [template], reverse=True)

    with factory() as session:
        row = admin.list_instances(session, limit=1).rows[0]
        assert set(row) >= {"id", "process_id", "version", "status", "business_key", "started_at"}
        keyed = admin.list_instances(session, business_keys=["K1", "K2"], limit=1000)
        assert keyed.total == 80 and {r["business_key"] for r in keyed.rows} == {"K1", "K2"}
        assert admin.list_instances(session, business_keys=[]).total == 0
        ranged = admin.list_instances(session, started_from=T0 + timedelta(hours=10),
                                      started_to=T0 + timedelta(hours=20), status=["running", "waiting"])
        assert ranged.total == 4          # hours 12, 13, 16, 17
        by_version = admin.list_instances(session, process_id="approval", version=1, limit=10)
        assert by_version.total == 1600 + 2 and len(by_version.rows) == 10
        by_offset = admin.list_instances(session, process_id="approval", status="running", limit=100, offset=100,
                                         with_total=False)
        assert [r["id"] for r in by_offset.rows] == ([newcomer] + seen)[100:200]   # offsets do shift
        assert admin.list_instances(session, overdue=True).total == 0

        if session.get_bind().dialect.name == "sqlite":
            def plan(**filters):
                sql = str(admin.listing_select(limit=50, **filters).compile(
                    session.get_bind(), compile_kwargs={"literal_binds": True}))
                return " ".join(str(r) for r in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql))

            for filters in ({"process_id": "approval", "status": "running", "after_id": 10 ** 6},
                            {"process_id": "approval"}, {"status": "incident"}):
                found = plan(**filters)
                assert "USING INDEX ix_instances_" in found and "SCAN instances" not in found, (filters, found)
                assert "TEMP B-TREE" not in found, (filters, found)   # ordered by the index: no sort
            assert "ix_instances_process_id_id" in plan(process_id="approval")
            assert "ix_instances_business_key" in plan(business_keys=["K1", "K2"])


def test_listing_overdue_filter_uses_the_ready_tasks_due_time(factory):
    instance_id = at_review(factory)
    with write_session(factory) as session:
        row = session.scalar(select(InboxTask).where(InboxTask.instance_id == instance_id))
        row.due_at = T0 + timedelta(days=1)
    other = at_review(factory)
    with factory() as session:
        late = admin.list_instances(session, overdue=True, now=T0 + timedelta(days=2))
        assert [r["id"] for r in late.rows] == [instance_id]
        on_time = admin.list_instances(session, overdue=False, now=T0 + timedelta(days=2))
        assert [r["id"] for r in on_time.rows] == [other]
        assert session.scalar(select(func.count()).select_from(Instance)) == 2


def _parent(after_name: str = "After", end: str = "e") -> dict[str, bytes]:
    body = ('<bpmn:startEvent id="s"/><bpmn:callActivity id="call" calledElement="child"/>'
            + kit.user_task("after").replace('name="after"', f'name="{after_name}"') + f'<bpmn:endEvent id="{end}"/>'
            + kit.flow("f1", "s", "call") + kit.flow("f2", "call", "after") + kit.flow("f3", "after", end))
    return {"parent.bpmn": kit.bpmn(body, "parent")}


def _child(name: str = "inner") -> dict[str, bytes]:
    body = (io_spec("child", ["team_id"], ["decision"]) + '<bpmn:startEvent id="cs"/>' + kit.user_task("inner").replace('name="inner"', f'name="{name}"')
            + '<bpmn:endEvent id="ce"/>' + kit.flow("c1", "cs", "inner") + kit.flow("c2", "inner", "ce"))
    return {"child.bpmn": kit.bpmn(body, "child")}


def test_migrate_an_instance_waiting_inside_a_called_process(factory):
    kit.deploy_files(factory, _child())
    kit.deploy_files(factory, _parent())
    inside = kit.start(factory, "parent", {"team_id": "t"})
    assert [r.task for r in kit.inbox(factory, inside)] == ["inner"]
    # the task after the call is renamed: only the future changes
    kit.deploy_files(factory, _parent("After, renamed"))
    act(factory, admin.migrate, inside, version_id(factory, 2, "parent"), reason="clearer name")
    kit.complete(factory, kit.inbox(factory, inside)[0].id, {"decision": "approve"})
    assert [r.name for r in kit.inbox(factory, inside)] == ["After, renamed"]
    # the running task of the called process changed: refused, naming it
    other = kit.start(factory, "parent", {"team_id": "t"})
    kit.deploy_files(factory, _child("renamed inner"))
    kit.deploy_files(factory, _parent("After, renamed", end="e2"))   # picks up the new child
    with pytest.raises(admin.MigrationRefused) as info:
        act(factory, admin.migrate, other, version_id(factory, 3, "parent"), reason="renamed")
    assert "'inner'" in str(info.value) and "subprocess 'child'" in str(info.value)
