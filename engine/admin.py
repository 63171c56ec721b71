"""Administrators' tools: find instances, look inside one, and act on it (suspend, resume, cancel,
retry, fire a timer now, reassign a task, edit data, migrate to a newer version), and repair an
incident raised by submitted data: correct the stored submission (then retry), or hand the task
back to its officers with a reason.

Every function takes a session and works inside the caller's transaction (the caller commits).
Every action is one audited step that requires a reason: an empty reason is refused with
`ReasonRequired` before anything is read or written.

Nothing here deserialises more than one instance per call, except `bulk_migrate`; the listing and
the per-element overview are indexed queries over the instance, inbox and timer rows.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter, SubWorkflowTaskConverter
from SpiffWorkflow.util.task import TaskState

from . import clock, runtime, serializer
from .errors import Conflict, EngineError, InstanceNotActive, NotFound, TaskNotReady
from .models import AuditEvent, InboxTask, Instance, ProcessVersion, Timer
from .parsing import DeclaredCallActivity, MergingServiceTask, spec_cache

OPEN = ("running", "waiting", "incident", "suspended")   # not ended
ENDED = ("completed", "cancelled")
_FUTURE = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE
_HARMLESS = _FUTURE | TaskState.CANCELLED   # states a changed/removed definition may touch


class ReasonRequired(EngineError):
    """Administrative actions must say why."""
    code = "reason_required"


@dataclass
class MigrationProblem:
    task: str            # BPMN element id (or internal spec name)
    state: str           # COMPLETED, READY, WAITING, ...
    message: str

    def as_dict(self) -> dict:
        return {"task": self.task, "state": self.state, "message": self.message}


class MigrationRefused(EngineError):
    code = "migration_refused"

    def __init__(self, instance_id: int, problems: list[MigrationProblem]):
        super().__init__(f"instance {instance_id} cannot be migrated: " + "; ".join(p.message for p in problems))
        self.instance_id = instance_id
        self.problems = problems


def _reason(reason) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ReasonRequired("a reason is required for this action")
    return reason.strip()


def _open_instance(session: Session, instance_id: int, allowed=OPEN, what="changed") -> Instance:
    instance = runtime._lock_instance(session, instance_id)
    if instance.status not in allowed:
        raise InstanceNotActive(f"instance {instance_id} is {instance.status} and cannot be {what}",
                                status=instance.status)
    return instance


def _save(session: Session, instance: Instance, wf, rows, before, status: str | None = None) -> None:
    try:
        runtime._save(session.connection(), instance, wf, rows, before, status=status)
    except StaleDataError:
        raise Conflict("the instance was changed by someone else; reload and try again") from None


def _live(wf) -> list:
    return wf.get_tasks(state=TaskState.READY | TaskState.WAITING)


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


# -- listing -------------------------------------------------------------------------------------

@dataclass
class InstancePage:
    rows: list[dict]
    total: int | None
    next_after_id: int | None        # pass as after_id for the next page (None: last page)
    limit: int = 50


_ROW_COLUMNS = (Instance.id, Instance.process_id, Instance.process_version_id, ProcessVersion.version,
                Instance.status, Instance.business_key, Instance.started_by, Instance.started_at,
                Instance.updated_at, Instance.ended_at, Instance.incident)


def _filters(*, process_id=None, version_id=None, version=None, status=None, business_keys=None,
             instance_ids=None, started_from=None, started_to=None, overdue=None, now=None) -> list:
    where = []
    if process_id is not None:
        where.append(Instance.process_id == process_id)
    if version_id is not None:
        where.append(Instance.process_version_id == version_id)
    if version is not None:
        where.append(ProcessVersion.version == version)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        where.append(Instance.status == statuses[0] if len(statuses) == 1 else Instance.status.in_(statuses))
    if business_keys is not None:
        where.append(Instance.business_key.in_(list(business_keys)))
    if instance_ids is not None:
        where.append(Instance.id.in_(list(instance_ids)))
    if started_from is not None:
        where.append(Instance.started_at >= started_from)
    if started_to is not None:
        where.append(Instance.started_at < started_to)
    if overdue is not None:
        late = exists().where(InboxTask.instance_id == Instance.id, InboxTask.due_at < (now or clock.now()))
        where.append(late if overdue else ~late)
    return where


def listing_select(*, after_id: int | None = None, limit: int = 50, **filters):
    """The SELECT behind `list_instances` (newest first, keyset-paged on id)."""
    query = (select(*_ROW_COLUMNS).join(ProcessVersion, ProcessVersion.id == Instance.process_version_id)
             .where(*_filters(**filters)).order_by(Instance.id.desc()))
    if after_id is not None:
        query = query.where(Instance.id < after_id)
    return query.limit(limit)


def list_instances(session: Session, *, process_id: str | None = None, version_id: int | None = None,
                   version: int | None = None, status: str | list[str] | None = None,
                   business_keys: list[str] | None = None, instance_ids: list[int] | None = None,
                   started_from: datetime | None = None, started_to: datetime | None = None,
                   overdue: bool | None = None, now: datetime | None = None, limit: int = 50,
                   after_id: int | None = None, offset: int | None = None, with_total: bool = True) -> InstancePage:
    """Instances matching every given filter, newest first.

    Page with `after_id` (the previous page's `next_after_id`: stable while instances are added);
    `offset` is accepted for jumping to a page number. `business_keys` / `instance_ids` carry the
    domain filters the caller resolved into keys or ids (an empty list matches nothing). `overdue`: has a ready task
    whose due time is before `now`. `version` is a version number (with `process_id`), `version_id`
    a process version's id. `started_to` is exclusive."""
    limit = max(1, min(int(limit), 1000))
    filters = dict(process_id=process_id, version_id=version_id, version=version, status=status,
                   business_keys=business_keys, instance_ids=instance_ids, started_from=started_from,
                   started_to=started_to, overdue=overdue, now=now)
    if (business_keys is not None and not list(business_keys)) or (instance_ids is not None and not list(instance_ids)):
        return InstancePage([], 0 if with_total else None, None, limit)
    query = listing_select(after_id=after_id, limit=limit + 1, **filters)
    if offset:
        query = query.offset(int(offset))
    found = session.execute(query).all()
    more = len(found) > limit
    rows = [_row_dict(r) for r in found[:limit]]
    total = None
    if with_total:
        count = select(func.count(Instance.id)).where(*_filters(**filters))
        if version is not None:
            count = count.join(ProcessVersion, ProcessVersion.id == Instance.process_version_id)
        total = session.scalar(count)
    return InstancePage(rows, total, rows[-1]["id"] if more and rows else None, limit)


def _row_dict(row) -> dict:
    incident = row.incident or None
    return {"id": row.id, "process_id": row.process_id, "process_version_id": row.process_version_id,
            "version": row.version, "status": row.status, "business_key": row.business_key,
            "started_by": row.started_by, "started_at": row.started_at, "updated_at": row.updated_at,
            "ended_at": row.ended_at,
            "incident": {"task": incident.get("task"), "message": incident.get("message")} if incident else None}


# -- one instance --------------------------------------------------------------------------------

def instance_detail(session: Session, instance_id: int) -> dict:
    """Everything an administrator sees about one instance, including the BPMN element ids to
    colour on its diagram: completed, active (ready or started), waiting, failed."""
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist")
    version = instance.version
    inbox = session.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id)
                            .order_by(InboxTask.created_at, InboxTask.id)).all()
    timer_rows = session.scalars(select(Timer).where(Timer.instance_id == instance_id).order_by(Timer.due_at)).all()
    trail = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                            .order_by(AuditEvent.id)).all()
    detail = {
        "id": instance.id, "status": instance.status, "process_id": instance.process_id,
        "process_name": version.name, "process_version_id": instance.process_version_id,
        "version": version.version, "deployment_id": instance.deployment_id,
        "business_key": instance.business_key, "started_by": instance.started_by,
        "started_at": instance.started_at, "updated_at": instance.updated_at, "ended_at": instance.ended_at,
        "incident": instance.incident,
        "active_tasks": [{"id": r.id, "task": r.task, "name": r.name, "form": r.form, "role": r.role,
                          "unit_id": r.unit_id, "assignee": r.assignee, "due_at": r.due_at,
                          "created_at": r.created_at} for r in inbox],
        "timers": [{"task_uuid": t.task_uuid, "task": t.task, "due_at": t.due_at} for t in timer_rows],
        "audit": [{"id": a.id, "at": a.at, "actor": a.actor, "action": a.action, "task": a.task,
                   "detail": a.detail, "reason": a.reason, "is_system": a.is_system} for a in trail],
    }
    elements = {"completed": set(), "active": set(), "waiting": set(), "failed": set(), "cancelled": set()}
    waiting, data = [], {}
    try:
        wf = runtime.load_workflow(session, instance)
    except Exception as exc:  # a broken state must not hide the rest of the page
        detail["state_error"] = f"{exc.__class__.__name__}: {exc}"
        wf = None
    if wf is not None:
        for task in wf.get_tasks(skip_subprocesses=True):
            eid = task.task_spec.bpmn_id
            if not eid:
                continue
            if task.state == TaskState.COMPLETED:
                elements["completed"].add(eid)
            elif task.state in (TaskState.READY, TaskState.STARTED):
                elements["active"].add(eid)
            elif task.state == TaskState.WAITING:
                elements["waiting"].add(eid)
            elif task.state == TaskState.ERROR:
                elements["failed"].add(eid)
            elif task.state == TaskState.CANCELLED:
                elements["cancelled"].add(eid)
        live = _live(wf)
        for task in live:
            if task.state == TaskState.WAITING:
                due = runtime._timer_due(task)
                event = getattr(task.task_spec, "event_definition", None)
                waiting.append({"id": str(task.id), "task": task.task_spec.bpmn_id, "name": task.task_spec.bpmn_name,
                                "process_id": task.workflow.spec.name,
                                "kind": "timer" if due is not None else (type(event).__name__ if event else "other"),
                                "due_at": due})
        for task in (live or [wf.last_task or wf.task_tree]):
            if task is not None:
                data.update(task.data)
    if instance.incident and instance.incident.get("task"):
        elements["failed"].add(instance.incident["task"])
    detail["elements"] = {k: sorted(v) for k, v in elements.items()}
    detail["waiting_tasks"] = waiting
    detail["data"] = data
    return detail


# -- actions -------------------------------------------------------------------------------------

def suspend(session: Session, instance_id: int, *, reason: str, actor: str | None = None) -> Instance:
    """Stop an instance: no task can be completed, no timer fires, no message is taken until resume."""
    reason = _reason(reason)
    instance = _open_instance(session, instance_id, ("running", "waiting", "incident"), "suspended")
    previous = instance.status
    instance.status, instance.updated_at = "suspended", clock.now()
    runtime.audit(session, instance.id, "suspend", actor=actor, reason=reason, detail={"previous_status": previous})
    session.flush()
    return instance


def resume(session: Session, instance_id: int, *, reason: str, actor: str | None = None) -> Instance:
    """Let a suspended instance go on (an unresolved incident stays an incident; overdue timers fire
    at the worker's next sweep)."""
    reason = _reason(reason)
    instance = _open_instance(session, instance_id, ("suspended",), "resumed")
    if instance.incident:
        status = "incident"
    else:
        has_inbox = session.scalar(select(InboxTask.id).where(InboxTask.instance_id == instance.id).limit(1))
        status = "running" if has_inbox else "waiting"
    instance.status, instance.updated_at = status, clock.now()
    runtime.audit(session, instance.id, "resume", actor=actor, reason=reason, detail={"status": status})
    session.flush()
    return instance


def cancel(session: Session, instance_id: int, *, reason: str, actor: str | None = None) -> Instance:
    """End an instance for good: its tasks leave every inbox and its timers are dropped."""
    reason = _reason(reason)
    instance = _open_instance(session, instance_id, OPEN, "cancelled")
    previous = instance.status
    open_tasks = session.scalars(select(InboxTask.task).where(InboxTask.instance_id == instance.id)).all()
    state = instance.state
    try:
        wf = runtime.load_workflow(session, instance)
        wf.cancel()
        state = serializer.dumps(wf)
    except Exception:  # an unreadable state can still be cancelled: the rows say it has ended
        pass
    conn = session.connection()
    conn.execute(delete(InboxTask).where(InboxTask.instance_id == instance.id))
    conn.execute(delete(Timer).where(Timer.instance_id == instance.id))
    at = clock.now()
    instance.status, instance.state, instance.ended_at, instance.updated_at = "cancelled", state, at, at
    runtime.audit(session, instance.id, "cancel", actor=actor, reason=reason,
                  detail={"previous_status": previous, "open_tasks": sorted(open_tasks)})
    session.flush()
    return instance


def retry(session: Session, instance_id: int, *, reason: str, actor: str | None = None,
          now: datetime | None = None) -> Instance:
    """Run the action that raised the incident again (after the cause was fixed)."""
    reason = _reason(reason)
    return runtime.retry(session, instance_id, actor=actor, reason=reason, now=now)


def _data_incident(session: Session, instance_id: int) -> tuple[Instance, dict]:
    """An instance whose incident was raised by completing a user task (the submitted data is
    stored with it), locked; and that incident's action."""
    instance = _open_instance(session, instance_id, ("incident",), "repaired (it has no incident)")
    action = (instance.incident or {}).get("action") or {}
    if action.get("kind") != "complete" or not isinstance(action.get("data"), dict):
        raise Conflict(f"the incident of instance {instance_id} was not raised by a submitted form")
    return instance, action


def edit_submission(session: Session, instance_id: int, data: dict, *, reason: str,
                    actor: str | None = None) -> dict:
    """Correct the form data stored with a data incident (the failed completion of a user task):
    the data is validated against the task's form (FormInvalid, nothing changed) and replaces the
    stored submission, so that `retry` runs the step with it. Returns {"before", "after"}."""
    reason = _reason(reason)
    if not isinstance(data, dict):
        raise EngineError("the submission must be an object")
    instance, action = _data_incident(session, instance_id)
    row = session.get(InboxTask, action["task_uuid"])
    wf = runtime.load_workflow(session, instance)
    runtime.validate_form(runtime.form_schema(session, instance, row.form if row else None), data,
                          runtime._task_context(wf, action["task_uuid"]))
    before = copy.deepcopy(action["data"])
    incident = copy.deepcopy(instance.incident)
    incident["action"] = {**action, "data": copy.deepcopy(data)}
    incident.setdefault("edits", []).append({"at": clock.now().isoformat(), "by": actor, "before": before})
    instance.incident, instance.updated_at = incident, clock.now()
    runtime.audit(session, instance.id, "edit_submission", actor=actor, task=action.get("task"), reason=reason,
                  detail={"task_uuid": action["task_uuid"], "before": before, "after": copy.deepcopy(data)})
    session.flush()
    return {"before": before, "after": copy.deepcopy(data)}


def hand_back(session: Session, instance_id: int, *, reason: str, actor: str | None = None) -> dict:
    """Give the user task whose submission raised the incident back to its officers: the step was
    rolled back, so the task is ready again (same task, role and unit); the incident is cleared
    and the instance runs on once the task is submitted again. The reason is audited
    (`handed_back`) for the officers to read. Returns {"task_uuid", "task", "role", "unit_id",
    "data" (the refused submission)}."""
    reason = _reason(reason)
    instance, action = _data_incident(session, instance_id)
    row = session.get(InboxTask, action["task_uuid"])
    if row is None:
        raise Conflict(f"the task of instance {instance_id} that raised the incident is no longer waiting")
    incident = instance.incident
    instance.status = incident.get("previous_status") or "running"
    instance.incident, instance.updated_at = None, clock.now()
    result = {"task_uuid": row.id, "task": row.task, "role": row.role, "unit_id": row.unit_id,
              "data": copy.deepcopy(action["data"])}
    runtime.audit(session, instance.id, "hand_back", actor=actor, task=row.task, reason=reason,
                  detail={**result, "incident": incident.get("message")})
    session.flush()
    return result


def handed_back(session: Session, task_uuid: str) -> dict | None:
    """Why a ready task was handed back to its officers, if it was: {"reason", "at", "actor",
    "data"} of the latest `hand_back` of that task (None once it is no longer ready)."""
    row = session.get(InboxTask, task_uuid)
    if row is None:
        return None
    events = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == row.instance_id,
                                                      AuditEvent.action == "hand_back", AuditEvent.task == row.task)
                             .order_by(AuditEvent.id.desc())).all()
    for event in events:
        if (event.detail or {}).get("task_uuid") == task_uuid:
            return {"reason": event.reason, "at": event.at, "actor": event.actor,
                    "data": (event.detail or {}).get("data") or {}}
    return None


def fire_timer_now(session: Session, instance_id: int, timer_task_uuid: str, *, reason: str,
                   actor: str | None = None, now: datetime | None = None) -> Instance:
    """Fire one armed timer now, however far its due time is: the timer is made due (an audited
    change of the state) and then fires like any due timer (a second step)."""
    reason = _reason(reason)
    instance = _open_instance(session, instance_id, runtime.ACTIVE, "changed (only running or waiting "
                                                                     "instances fire timers)")
    wf = runtime.load_workflow(session, instance)
    try:
        task = wf.get_task_from_id(UUID(str(timer_task_uuid)))
    except (ValueError, KeyError):
        task = None
    old_due = runtime._timer_due(task) if task is not None and task.state == TaskState.WAITING else None
    if old_due is None:
        raise TaskNotReady(f"task {timer_task_uuid} is not an armed timer of instance {instance_id}")
    lv = runtime.loaded_version(session, instance)
    before = runtime._Rows.of(_live(wf), lv)
    with clock.frozen_at(now):
        due = clock.now() - timedelta(microseconds=1)   # timers fire when due < now
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):
            value["next"] = due.isoformat()
        else:
            task.internal_data["event_value"] = due.isoformat()
        _save(session, instance, wf, runtime._Rows.of(_live(wf), lv), before)
        runtime.audit(session, instance.id, "fire_timer_now", actor=actor, task=task.task_spec.bpmn_id, reason=reason,
                      detail={"task_uuid": str(task.id), "due_was": old_due.isoformat()})
    return runtime.fire_timers(session, instance.id, now=now)


def reassign(session: Session, task_uuid: str, assignee: str | None, *, reason: str,
             actor: str | None = None) -> InboxTask:
    """Give a ready task to someone (None: back to everyone of its role and unit)."""
    reason = _reason(reason)
    row = session.get(InboxTask, task_uuid)
    if row is None:
        raise TaskNotReady("this task has already been completed or is no longer waiting")
    instance = _open_instance(session, row.instance_id, OPEN, "changed")
    row = session.scalars(select(InboxTask).where(InboxTask.id == task_uuid)
                          .execution_options(populate_existing=True)).first()
    if row is None:  # completed while we waited for the instance's lock
        raise TaskNotReady("this task has already been completed or is no longer waiting")
    before = row.assignee
    row.assignee = assignee or None
    instance.updated_at = clock.now()
    runtime.audit(session, row.instance_id, "reassign", actor=actor, task=row.task, reason=reason,
                  detail={"task_uuid": row.id, "before": before, "after": row.assignee})
    session.flush()
    return row


def edit_data(session: Session, instance_id: int, changes: dict, *, reason: str, actor: str | None = None,
              remove: list[str] | tuple = ()) -> dict:
    """Change the data of a suspended instance (its ready and waiting tasks): `changes` sets keys,
    `remove` deletes keys. Returns {"before": ..., "after": ...} of the keys touched."""
    reason = _reason(reason)
    if not isinstance(changes, dict) or not all(isinstance(k, str) and k for k in changes):
        raise EngineError("changes must be an object with text keys")
    try:
        json.dumps(changes)
    except (TypeError, ValueError) as exc:
        raise EngineError(f"changes must be JSON values: {exc}") from None
    remove = [k for k in remove if k not in changes]
    if not changes and not remove:
        raise EngineError("nothing to change")
    instance = _open_instance(session, instance_id, ("suspended",), "edited (suspend it first)")
    wf = runtime.load_workflow(session, instance)
    live = _live(wf)
    if not live:
        raise Conflict(f"instance {instance_id} has no ready or waiting task whose data could be edited")
    lv = runtime.loaded_version(session, instance)
    before_rows = runtime._Rows.of(live, lv)
    current: dict = {}
    for task in live:
        current.update(task.data)
    keys = list(changes) + remove
    before = {k: current[k] for k in keys if k in current}
    for task in live:
        for key in remove:
            task.data.pop(key, None)
        task.data.update(copy.deepcopy(changes))
    _save(session, instance, wf, runtime._Rows.of(live, lv), before_rows, status="suspended")
    conn = session.connection()
    result = {"before": before, "after": copy.deepcopy(changes), "removed": remove,
              "new_keys": [k for k in changes if k not in current]}
    runtime.audit(conn, instance.id, "edit_data", actor=actor, reason=reason, detail=result)
    return result


# -- migration -----------------------------------------------------------------------------------

def _spec_registry():
    config = dict(SPIFF_CONFIG)
    config[MergingServiceTask] = ServiceTaskConverter   # our service task subclass, compared like Spiff's
    config[DeclaredCallActivity] = SubWorkflowTaskConverter   # our call activity, likewise
    return BpmnWorkflowSerializer.configure(config)


_SPEC_REGISTRY = _spec_registry()


def _element(spec) -> str:
    """A spec's BPMN id, or for internal specs (review.BoundaryEventSplit) the element they belong to."""
    return spec.bpmn_id or spec.name.split(".")[0]


def _state_name(state) -> str:
    return TaskState.get_name(state)


def _check_diff(diff: WorkflowDiff, spec_diff: SpecDiff | None, where: str) -> list[MigrationProblem]:
    problems, seen = [], set()
    for task in diff.changed + diff.removed:
        if task.state & _HARMLESS:
            continue
        element, state = _element(task.task_spec), _state_name(task.state)
        if (element, state) in seen:
            continue
        seen.add((element, state))
        if task in diff.removed:
            what = "was removed"
        else:
            fields = sorted(spec_diff.changed.get(task.task_spec, [])) if spec_diff else []
            what = "changed" + (f" ({', '.join(fields)})" if fields else "")
        name = task.task_spec.bpmn_name
        label = f"{element!r}" + (f" ({name})" if name else "") + (f" in {where}" if where else "")
        kind = "already completed" if state == "COMPLETED" else f"{state.lower()} now"
        problems.append(MigrationProblem(element, state, f"task {label} is {kind} and its definition {what}"))
    return problems


@dataclass
class _Plan:
    instance: Instance
    target: ProcessVersion
    wf: object
    lv_old: object
    lv_new: object
    diffs: list = field(default_factory=list)        # (workflow, WorkflowDiff, new spec)
    problems: list[MigrationProblem] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


def _plan(session: Session, instance: Instance, target: ProcessVersion) -> _Plan:
    lv_old = runtime.loaded_version(session, instance)
    lv_new = spec_cache.get(session, target.deployment_id, target.process_id)
    wf = runtime.load_workflow(session, instance)
    plan = _Plan(instance, target, wf, lv_old, lv_new)
    # diff_workflow(), keeping the spec diffs for readable reasons
    spec_diff = SpecDiff(_SPEC_REGISTRY, wf.spec, lv_new.spec)
    top = WorkflowDiff(wf, spec_diff)
    plan.added = sorted(_element(s) for s in spec_diff.added if s.bpmn_id)
    plan.diffs.append((wf, top, lv_new.spec))
    plan.problems += _check_diff(top, spec_diff, "")
    for sp_id, sp in wf.subprocesses.items():
        new_spec = lv_new.subprocess_specs.get(sp.spec.name)
        if new_spec is None:
            plan.problems.append(MigrationProblem(sp.spec.name, "STARTED",
                                                  f"subprocess {sp.spec.name!r} is running and no longer exists"))
            continue
        sub_diff = SpecDiff(_SPEC_REGISTRY, sp.spec, new_spec)
        diff = WorkflowDiff(sp, sub_diff)
        plan.diffs.append((sp, diff, new_spec))
        plan.problems += _check_diff(diff, sub_diff, f"subprocess {sp.spec.name!r}")
    return plan


def _target(session: Session, target_version_id: int) -> ProcessVersion:
    target = session.get(ProcessVersion, target_version_id)
    if target is None:
        raise NotFound(f"process version {target_version_id} does not exist")
    return target


def check_migration(session: Session, instance_id: int, target_version_id: int) -> list[dict]:
    """Why `migrate` would refuse (an empty list: it would go ahead). Changes nothing."""
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist")
    try:
        plan = _prepare(session, instance, _target(session, target_version_id))
    except MigrationRefused as exc:
        return [p.as_dict() for p in exc.problems]
    return [p.as_dict() for p in plan.problems]


def _prepare(session: Session, instance: Instance, target: ProcessVersion) -> _Plan:
    if instance.status not in OPEN:
        raise MigrationRefused(instance.id, [MigrationProblem("", instance.status.upper(),
                                                              f"the instance is {instance.status}")])
    if target.process_id != instance.process_id:
        raise MigrationRefused(instance.id, [MigrationProblem(
            "", "", f"version {target.id} belongs to process {target.process_id!r}, not {instance.process_id!r}")])
    if target.id == instance.process_version_id:
        raise MigrationRefused(instance.id, [MigrationProblem("", "", "the instance already runs on this version")])
    return _plan(session, instance, target)


def migrate(session: Session, instance_id: int, target_version_id: int, *, reason: str,
            actor: str | None = None) -> Instance:
    """Move an open instance to another version of its process. Refused (MigrationRefused, naming
    each task) unless every changed or removed element only touches tasks still in the future
    (FUTURE/LIKELY/MAYBE; a change of a running task's outgoing flows, e.g. a step inserted right
    after it, counts as touching it). Ready and waiting tasks keep their ids, data, assignees and
    timer due times; incident and suspended instances keep their status."""
    reason = _reason(reason)
    target = _target(session, target_version_id)
    instance = runtime._lock_instance(session, instance_id)
    plan = _prepare(session, instance, target)
    if plan.problems:
        raise MigrationRefused(instance.id, plan.problems)
    wf = plan.wf
    live_before = {t.id: (t.state, copy.deepcopy(t.data), copy.deepcopy(t.internal_data)) for t in _live(wf)}
    rows_before = runtime._Rows.of(_live(wf), plan.lv_old)
    for workflow, diff, new_spec in plan.diffs:
        migrate_workflow(diff, workflow, new_spec)
    wf.subprocess_specs = plan.lv_new.subprocess_specs
    # resetting re-predicts what follows a ready/waiting task but also restarts timers and copies
    # data from the parent: give those tasks back what they had
    problems = []
    for task_id, (state, data, internal) in live_before.items():
        task = wf.get_task_from_id(task_id)
        if task is None or task.state != state:
            problems.append(MigrationProblem(str(task_id), _state_name(state),
                                             "the migration would change the tasks that are running now"))
            continue
        task.data, task.internal_data = data, internal
    problems += _stale_specs(wf, plan.lv_new)
    if problems:
        raise MigrationRefused(instance.id, problems)
    # the new state must load with the new spec
    restored = serializer.loads(serializer.dumps(wf), plan.lv_new.spec, plan.lv_new.subprocess_specs)
    if {t.id for t in _live(restored)} != set(live_before):
        raise MigrationRefused(instance.id, [MigrationProblem("", "", "the migrated state does not reload the same")])
    conn = session.connection()
    keep = instance.status if instance.status in ("incident", "suspended") else None
    from_version = {"id": instance.process_version_id, "version": instance.version.version}
    _save(session, instance, wf, runtime._Rows.of(_live(wf), plan.lv_new), rows_before, status=keep)
    conn.execute(update(Instance).where(Instance.id == instance.id)
                 .values(process_version_id=target.id, deployment_id=target.deployment_id))
    set_committed_value(instance, "process_version_id", target.id)
    set_committed_value(instance, "deployment_id", target.deployment_id)
    set_committed_value(instance, "version", target)
    runtime.audit(conn, instance.id, "migrate", actor=actor, reason=reason,
                  detail={"from_version_id": from_version["id"], "from_version": from_version["version"],
                          "to_version_id": target.id, "to_version": target.version, "added": plan.added})
    return instance


def _stale_specs(wf, lv) -> list[MigrationProblem]:
    """Tasks still pointing at an element the new version does not have."""
    problems = []
    for workflow in [wf, *wf.subprocesses.values()]:
        specs = workflow.spec.task_specs
        for task in workflow.tasks.values():
            if specs.get(task.task_spec.name) is not task.task_spec:
                problems.append(MigrationProblem(_element(task.task_spec), _state_name(task.state),
                                                 f"task {_element(task.task_spec)!r} ({_state_name(task.state)}) "
                                                 "has no counterpart in the new version"))
    return problems


def bulk_migrate(session: Session, from_version_id: int, to_version_id: int, *, reason: str,
                 actor: str | None = None, limit: int | None = None) -> dict:
    """Migrate every open instance of one version; each in its own savepoint, refusals collected.
    Returns {"migrated": [ids], "refused": [{"instance_id", "reason", "problems"}]}."""
    reason = _reason(reason)
    _target(session, to_version_id)
    query = (select(Instance.id).where(Instance.process_version_id == from_version_id,
                                       Instance.status.in_(OPEN)).order_by(Instance.id))
    if limit:
        query = query.limit(limit)
    migrated, refused = [], []
    for instance_id in session.scalars(query).all():
        savepoint = session.begin_nested()
        try:
            migrate(session, instance_id, to_version_id, reason=reason, actor=actor)
            savepoint.commit()
            migrated.append(instance_id)
        except (MigrationRefused, Conflict) as exc:
            savepoint.rollback()
            problems = [p.as_dict() for p in getattr(exc, "problems", [])]
            refused.append({"instance_id": instance_id, "reason": str(exc), "problems": problems})
    return {"migrated": migrated, "refused": refused}


# -- overview ------------------------------------------------------------------------------------

def process_overview(session: Session, process_version_id: int) -> dict:
    """Where the instances of one version are now, per BPMN element id, from the inbox, timer and
    instance rows (no instance is deserialised):
    {"statuses": {status: n}, "elements": {element: {"ready": n, "waiting": n, "incidents": n}}}.
    Ready counts include tasks of suspended instances; waiting counts only armed timers (an
    instance waiting for a message is counted in the statuses only)."""
    if session.get(ProcessVersion, process_version_id) is None:
        raise NotFound(f"process version {process_version_id} does not exist")
    elements: dict[str, dict] = {}

    def slot(element):
        return elements.setdefault(element, {"ready": 0, "waiting": 0, "incidents": 0})

    in_version = Instance.process_version_id == process_version_id
    for task, n in session.execute(select(InboxTask.task, func.count()).join(Instance, Instance.id == InboxTask.instance_id)
                                   .where(in_version).group_by(InboxTask.task)):
        slot(task)["ready"] += n
    for task, n in session.execute(select(Timer.task, func.count(func.distinct(Timer.instance_id)))
                                   .join(Instance, Instance.id == Timer.instance_id)
                                   .where(in_version).group_by(Timer.task)):
        slot(task)["waiting"] += n
    for (incident,) in session.execute(select(Instance.incident).where(in_version, Instance.status == "incident")):
        slot((incident or {}).get("task") or "?")["incidents"] += 1
    statuses = dict(session.execute(select(Instance.status, func.count()).where(in_version)
                                    .group_by(Instance.status)).all())
    return {"process_version_id": process_version_id, "statuses": statuses, "elements": elements}
