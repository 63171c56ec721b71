"""Running instances. Every public function is one step of one instance inside the caller's
transaction: load (row-locked on PostgreSQL), act, run engine steps, save, rewrite the inbox and
timer rows, append audit events. The caller commits.

A handler or expression failure rolls the step back to a savepoint and marks the instance with an
incident that remembers the action, so `retry` can run it again once the cause is fixed.
"""
from __future__ import annotations

import copy
import json
import re
import time
from datetime import datetime, timezone
from functools import lru_cache
from uuid import UUID

import jsonschema
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import (BoundaryEvent, IntermediateCatchEvent,
                                                                       ReceiveTask)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from . import clock, registry, serializer
from .db import is_postgres
from .errors import (BudgetExceeded, Conflict, FieldError, FormInvalid, HandlerFailure,
                     InstanceNotActive, NotFound, TaskNotReady)
from .models import AuditEvent, InboxTask, Instance, ProcessVersion, Timer
from .parsing import LoadedVersion, spec_cache
from .sandbox import ExpressionError, SandboxScriptEngine

MAX_ENGINE_TASKS_PER_STEP = 500
MAX_STEP_SECONDS = 10.0
ACTIVE = ("running", "waiting")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_INCIDENT_ERRORS = (HandlerFailure, SpiffWorkflowException, BudgetExceeded, ExpressionError)

# Governance may register a function (schema, session) -> schema that fills in choices
# (e.g. directory references) before a form is shown or validated.
_form_resolver = None


def set_form_resolver(fn) -> None:
    global _form_resolver
    _form_resolver = fn


# Governance may register a function (schema, data, context) -> [FieldError] that checks what plain
# JSON Schema cannot (cross-field rules, dates against the clock or the task's data `context`).
_form_checker = None


def set_form_checker(fn) -> None:
    global _form_checker
    _form_checker = fn


# -- loading -------------------------------------------------------------------------------------

def _lock_instance(session: Session, instance_id: int) -> Instance:
    query = select(Instance).where(Instance.id == instance_id).execution_options(populate_existing=True)
    if is_postgres(session):
        query = query.with_for_update(of=Instance)
    instance = session.scalars(query).first()
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist")
    return instance


def loaded_version(session: Session, instance: Instance) -> LoadedVersion:
    return spec_cache.get(session, instance.deployment_id, instance.process_id)


def load_workflow(session: Session, instance: Instance, script_engine=None) -> BpmnWorkflow:
    lv = loaded_version(session, instance)
    return serializer.loads(instance.state, lv.spec, lv.subprocess_specs, script_engine)


def current_elements(session: Session, instance: Instance) -> dict[str, dict[str, str | None]]:
    """Where a running instance stands, per process id: {BPMN id: name} of tasks ready or running,
    call activities under way and catch events or receive tasks waiting (boundary events, which
    wait beside their task, are left out)."""
    out: dict[str, dict[str, str | None]] = {}
    if instance.status in ("completed", "cancelled"):
        return out
    for task in load_workflow(session, instance).get_tasks(state=TaskState.READY | TaskState.STARTED | TaskState.WAITING):
        spec = task.task_spec
        if not spec.bpmn_id or isinstance(spec, BoundaryEvent):
            continue
        if task.state == TaskState.WAITING and not isinstance(spec, (IntermediateCatchEvent, ReceiveTask)):
            continue
        out.setdefault(task.workflow.spec.name, {}).setdefault(spec.bpmn_id, spec.bpmn_name)
    return out


# -- one step ------------------------------------------------------------------------------------

class _Step:
    """Context of one step: the script engine that calls handlers, the budget, what ran.

    Handlers write to the database, so the first handler call opens a savepoint; a failure rolls
    the step back to it. A step without handlers writes nothing before it saves and needs none."""

    def __init__(self, session: Session, instance: Instance, actor: str | None):
        self.session, self.instance, self.actor = session, instance, actor
        self.savepoint = None
        self.ran: list[dict] = []
        self.current = None
        self.count = 0
        self.started = time.monotonic()
        self.script_engine = SandboxScriptEngine(self.call_handler)

    def call_handler(self, task, name, params):
        fn = registry.get_handler(name)
        if fn is None:
            raise HandlerFailure(name, "no such handler is registered")
        if self.savepoint is None:
            self.savepoint = self.session.begin_nested()
        if registry.handler_takes_ctx(name):
            params["ctx"] = registry.HandlerContext(
                session=self.session, instance_id=self.instance.id, process_id=self.instance.process_id,
                task_id=task.task_spec.bpmn_id, now=clock.now(), data=copy.deepcopy(task.data), actor=self.actor)
        try:
            result = fn(**params)
        except HandlerFailure:
            raise
        except Exception as exc:  # a handler bug or a refused input: becomes an incident
            raise HandlerFailure(name, f"{exc.__class__.__name__}: {exc}") from exc
        if result is None:
            result = {}
        if not isinstance(result, dict):
            raise HandlerFailure(name, f"returned {type(result).__name__}, expected a dict")
        if self.ran and self.ran[-1]["task"] == task.task_spec.bpmn_id:
            self.ran[-1]["result"] = sorted(result)
        return result

    def will_run(self, task):
        self.current = task
        if task.task_spec.bpmn_id:
            self.ran.append({"task": task.task_spec.bpmn_id})
        self.count += 1
        if self.count > MAX_ENGINE_TASKS_PER_STEP:
            raise BudgetExceeded(f"more than {MAX_ENGINE_TASKS_PER_STEP} engine tasks in one step")
        if time.monotonic() - self.started > MAX_STEP_SECONDS:
            raise BudgetExceeded(f"step took longer than {MAX_STEP_SECONDS} s")

    def release(self):
        if self.savepoint is not None:
            self.savepoint.commit()

    def roll_back(self):
        if self.savepoint is not None and self.savepoint.is_active:
            self.savepoint.rollback()

    def engine_steps(self, wf: BpmnWorkflow) -> list:
        """Run until only user tasks are ready; returns the READY and WAITING tasks."""
        # do_engine_steps refreshes timers last; a timer that fires there readies more engine work
        while True:
            wf.do_engine_steps(will_complete_task=self.will_run)
            live = wf.get_tasks(state=TaskState.READY | TaskState.WAITING)
            if all(t.task_spec.manual for t in live if t.state == TaskState.READY):
                return live


def _perform(session: Session, instance: Instance, wf: BpmnWorkflow, action: dict, actor: str | None,
             now: datetime | None) -> Instance:
    """Apply `action` and run the engine; on failure roll back and record an incident instead."""
    step = _Step(session, instance, actor)
    wf.script_engine = step.script_engine
    lv = loaded_version(session, instance)
    before = _Rows.of(wf.get_tasks(state=TaskState.READY | TaskState.WAITING), lv) if action["kind"] != "start" else _Rows()
    try:
        with clock.frozen_at(now), session.no_autoflush:
            detail = _apply(wf, action, step)
            live = step.engine_steps(wf)
            conn = session.connection()
            _save(conn, instance, wf, _Rows.of([] if wf.is_completed() else live, lv), before)
            if step.ran:
                detail["ran"] = step.ran
            audit(conn, instance.id, action["kind"], actor=actor, task=action.get("task"), detail=detail,
                  is_system=action["kind"] == "timer")
        session.flush()
        step.release()
    except StaleDataError:
        step.roll_back()
        raise Conflict("the instance was changed by someone else; reload and try again") from None
    except _INCIDENT_ERRORS as exc:
        step.roll_back()
        culprit = getattr(exc, "task", None) or step.current   # Spiff's task exceptions name their task
        spec = getattr(culprit, "task_spec", None)
        failed = getattr(spec, "bpmn_id", None) or action.get("task")
        _mark_incident(session, instance, action, failed, exc, actor)
    except BaseException:
        step.roll_back()
        raise
    return instance


def _apply(wf: BpmnWorkflow, action: dict, step: _Step) -> dict:
    kind = action["kind"]
    if kind == "start":
        return {"data": action.get("data") or {}}
    if kind == "complete":
        task = wf.get_task_from_id(UUID(action["task_uuid"]))
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReady("this task has already been completed or is no longer waiting")
        step.current = task
        before = task.data
        task.set_data(**action["data"])
        changed = {k: v for k, v in action["data"].items() if before.get(k, object()) != v or k not in before}
        task.run()
        return {"data": changed or action["data"]}
    if kind == "message":
        event = BpmnEvent(MessageEventDefinition(action["name"]), payload=action.get("payload"),
                          correlations=action.get("correlations") or {})
        try:
            wf.send_event(event)
        except WorkflowException as exc:
            raise Conflict(f"the instance is not waiting for message {action['name']!r}") from exc
        return {"message": action["name"], "payload": action.get("payload")}
    if kind == "timer":
        due = _timer_tasks(wf)
        return {"timers": sorted({t.task_spec.bpmn_id for t, at in due if at is not None and at <= clock.now()})}
    raise ValueError(f"unknown action {kind!r}")


def _mark_incident(session, instance, action, failed_task, exc, actor):
    message = str(exc)
    if isinstance(exc, SpiffWorkflowException):
        message = exc.__class__.__name__ + ": " + "; ".join([str(exc)] + list(getattr(exc, "notes", []) or []))
    instance.incident = {"task": failed_task, "message": message[:2000], "action": action,
                         "previous_status": instance.status, "at": clock.now().isoformat()}
    instance.status = "incident"
    instance.updated_at = clock.now()
    audit(session, instance.id, "incident", actor=actor, task=failed_task,
          detail={"message": message[:2000], "action": action["kind"]}, is_system=True)
    session.flush()


# -- saving: state, status, inbox, timers --------------------------------------------------------

class _Rows:
    """The inbox and timer rows an instance state implies (its rows in the database match the
    state they were saved with, so a step rewrites only the difference)."""

    def __init__(self, inbox: dict | None = None, timers: dict | None = None):
        self.inbox = inbox or {}     # task uuid -> row values
        self.timers = timers or {}   # (task uuid, due) -> task BPMN id

    @classmethod
    def of(cls, live: list, lv: LoadedVersion) -> "_Rows":
        inbox, timers = {}, {}
        for task in live:
            if task.state == TaskState.READY and task.task_spec.manual:
                inbox[str(task.id)] = _task_row_values(task, lv)
            elif task.state == TaskState.WAITING:
                due = _timer_due(task)
                if due is not None:
                    timers[(str(task.id), due)] = task.task_spec.bpmn_id
        return cls(inbox, timers)


# The hot path's statements, built once (parameters bound per execution).
_INSTANCES, _INBOX, _TIMERS, _AUDIT = (Instance.__table__, InboxTask.__table__, Timer.__table__,
                                       AuditEvent.__table__)
_SAVE_STATE = update(_INSTANCES).where(_INSTANCES.c.id == bindparam("b_id"),
                                       _INSTANCES.c.lock_version == bindparam("b_lock"))
_DROP_INBOX = delete(_INBOX).where(_INBOX.c.id == bindparam("b_id"))
_CHANGE_INBOX = update(_INBOX).where(_INBOX.c.id == bindparam("b_id"))
_DROP_TIMER = delete(_TIMERS).where(_TIMERS.c.instance_id == bindparam("b_instance"),
                                    _TIMERS.c.task_uuid == bindparam("b_task"), _TIMERS.c.due_at == bindparam("b_due"))
_ADD_INBOX, _ADD_TIMER, _ADD_AUDIT = insert(_INBOX), insert(_TIMERS), insert(_AUDIT)


def _save(conn, instance: Instance, wf: BpmnWorkflow, rows: _Rows, before: _Rows, status: str | None = None) -> None:
    """Write the new state with an optimistic version check (a Core UPDATE: the hot path).
    `status` overrides the status the state implies (admin changes of a suspended instance)."""
    at = clock.now()
    completed = wf.is_completed()
    values = {"state": serializer.dumps(wf), "updated_at": at,
              "status": status or ("completed" if completed else ("running" if rows.inbox else "waiting")),
              "lock_version": instance.lock_version + 1, "ended_at": at if completed else None}
    result = conn.execute(_SAVE_STATE, {"b_id": instance.id, "b_lock": instance.lock_version, **values})
    if result.rowcount != 1:
        raise StaleDataError("instance changed concurrently")
    for key, value in values.items():
        set_committed_value(instance, key, value)
    _sync_inbox(conn, instance, rows.inbox, before.inbox)
    _sync_timers(conn, instance, rows.timers, before.timers)


def _task_row_values(task, lv: LoadedVersion) -> dict:
    meta = lv.task_meta.get(task.workflow.spec.name, {}).get(task.task_spec.bpmn_id, {})
    data = task.data
    role = meta.get("role")
    unit_key = meta.get("unit_key")
    if role and "{" in role:  # a role template such as {level}_org: its unit follows the resolved role
        role = _PLACEHOLDER.sub(lambda m: str(data.get(m.group(1), m.group(0))), role)
        unit_key = unit_key or registry.known_roles().get(role)
    unit = _data_path(data, unit_key) if unit_key else None
    due = _parse_instant(data.get(meta["due_key"])) if meta.get("due_key") else None
    return {"task": task.task_spec.bpmn_id, "name": meta.get("name") or task.task_spec.bpmn_name,
            "form": meta.get("form"), "role": role, "unit_id": None if unit is None else str(unit), "due_at": due}


def _data_path(data: dict, key: str):
    """A data key, or a dotted path into a dict (a multi-instance item: `duty.department_id`)."""
    if key in data or "." not in key:
        return data.get(key)
    value = data
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _sync_inbox(conn, instance, wanted: dict, existing: dict) -> None:
    """Rewrite the instance's inbox rows to match its READY user tasks (assignees are kept)."""
    gone = [{"b_id": tid} for tid in existing if tid not in wanted]
    if gone:
        conn.execute(_DROP_INBOX, gone)
    new = [{"id": tid, "instance_id": instance.id, "process_id": instance.process_id, "created_at": clock.now(),
            "assignee": None, **values} for tid, values in wanted.items() if tid not in existing]
    if new:
        conn.execute(_ADD_INBOX, new)
    for tid, values in wanted.items():
        if tid in existing and existing[tid] != values:
            conn.execute(_CHANGE_INBOX, {"b_id": tid, **values})


def _timer_due(task) -> datetime | None:
    """When a waiting timer task fires (None if it is no timer)."""
    event = getattr(task.task_spec, "event_definition", None)
    if isinstance(event, TimerEventDefinition) or (
            isinstance(event, MultipleEventDefinition)
            and any(isinstance(e, TimerEventDefinition) for e in event.event_definitions)):
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):
            value = value.get("next")
        return _parse_instant(value)
    return None


def _timer_tasks(wf: BpmnWorkflow) -> list[tuple]:
    """(task, due instant) for every waiting timer, subprocesses included."""
    return [(task, due) for task in wf.get_tasks(state=TaskState.WAITING)
            if (due := _timer_due(task)) is not None]


def _sync_timers(conn, instance, wanted: dict, existing: dict) -> None:
    gone = [{"b_instance": instance.id, "b_task": tid, "b_due": due} for tid, due in existing if (tid, due) not in wanted]
    if gone:
        conn.execute(_DROP_TIMER, gone)
    new = [{"instance_id": instance.id, "task_uuid": tid, "task": task, "due_at": due}
           for (tid, due), task in wanted.items() if (tid, due) not in existing]
    if new:
        conn.execute(_ADD_TIMER, new)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite returns naive datetimes (stored as UTC)
        return value.replace(tzinfo=timezone.utc)
    return value


def _parse_instant(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _aware(value).astimezone(timezone.utc)
    try:
        return TimerEventDefinition.get_datetime(str(value))
    except ValueError:
        return None


def audit(session_or_conn, instance_id: int | None, action: str, *, actor=None, task=None, detail=None,
          reason=None, is_system=False) -> None:
    """Append an audit event (in the caller's transaction)."""
    conn = session_or_conn.connection() if isinstance(session_or_conn, Session) else session_or_conn
    conn.execute(_ADD_AUDIT, {"instance_id": instance_id, "at": clock.now(), "actor": actor, "action": action,
                              "task": task, "detail": detail, "reason": reason, "is_system": is_system})


# -- public API ----------------------------------------------------------------------------------

def latest_version(session: Session, process_id: str) -> ProcessVersion:
    version = session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                              .order_by(ProcessVersion.version.desc()).limit(1)).first()
    if version is None:
        raise NotFound(f"process {process_id!r} is not deployed")
    return version


def start(session: Session, process_id: str, data: dict | None = None, *, actor: str | None = None,
          business_key: str | None = None, version: ProcessVersion | None = None,
          now: datetime | None = None) -> Instance:
    """Start an instance of the newest version of `process_id` (or of `version`)."""
    version = version or latest_version(session, process_id)
    data = dict(data or {})
    lv = spec_cache.get(session, version.deployment_id, process_id)
    wf = BpmnWorkflow(lv.spec, lv.subprocess_specs, script_engine=SandboxScriptEngine())
    for task in wf.get_tasks(state=TaskState.READY):
        task.set_data(**copy.deepcopy(data))
    with clock.frozen_at(now):
        at = clock.now()
    instance = Instance(process_version_id=version.id, deployment_id=version.deployment_id,
                        process_id=process_id, status="running",
                        state=serializer.dumps(wf), business_key=business_key, started_by=actor,
                        started_at=at, updated_at=at, version=version)
    session.add(instance)
    session.flush()
    return _perform(session, instance, wf, {"kind": "start", "data": data}, actor, now)


def get_ready_task(session: Session, task_uuid: str):
    """The inbox row of a READY user task (a read-only row), or TaskNotReady."""
    row = session.connection().execute(select(InboxTask.__table__).where(InboxTask.id == task_uuid)).first()
    if row is None:
        raise TaskNotReady("this task has already been completed or is no longer waiting")
    return row


def _active_instance(session: Session, instance_id: int) -> Instance:
    instance = _lock_instance(session, instance_id)
    if instance.status not in ACTIVE:
        raise InstanceNotActive(f"instance {instance_id} is {instance.status}", status=instance.status)
    return instance


def form_schema(session: Session, instance: Instance, form: str | None) -> dict | None:
    """The JSON Schema of a form as deployed with the instance's version, choices resolved."""
    if not form:
        return None
    schema = loaded_version(session, instance).forms.get(form)
    if schema is None:
        return None
    return _form_resolver(copy.deepcopy(schema), session) if _form_resolver else schema


def validate_form(schema: dict | None, data: dict, context: dict | None = None) -> None:
    """FormInvalid unless `data` satisfies `schema` and the registered form checker (which may
    compare with the task's data `context`)."""
    if schema is None:
        if isinstance(data, dict) and data:   # a task without a form takes no data
            raise FormInvalid([FieldError(k, "is not a field of this form", kind="additionalProperties")
                               for k in sorted(data)])
        return
    errors = sorted(_validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    found = [FieldError(".".join(str(p) for p in e.absolute_path) or _missing_field(e), e.message,
                        kind=str(e.validator)) for e in errors]
    named = {e.field.split(".")[0] for e in found}
    found += [e for e in undeclared_fields(schema, data) if e.field not in named]
    if _form_checker is not None and isinstance(data, dict):
        named = {e.field.split(".")[0] for e in found}
        found += [e for e in _form_checker(schema, data, context) if e.field not in named]
    if found:
        raise FormInvalid(found)


def undeclared_fields(schema: dict, data) -> list[FieldError]:
    """Only the form's own editable fields enter the instance data: a key the form does not declare
    (whether or not the form is closed) or declares read-only (the system fills it in) is refused."""
    if not isinstance(data, dict):
        return []
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    found = []
    for key in data:
        prop = props.get(key)
        if not isinstance(prop, dict):
            found.append(FieldError(str(key), "is not a field of this form", kind="additionalProperties"))
        elif prop.get("readOnly"):
            found.append(FieldError(str(key), "is filled in by the system", kind="readOnly"))
    return found


def assignment_keys(wf: BpmnWorkflow, lv: LoadedVersion, task_uuid: str) -> set[str]:
    """The data keys that assign a user task: its unit key (a dotted path by its first key) and
    the placeholders of its role template (`{level}_org` → `level`)."""
    try:
        task = wf.get_task_from_id(UUID(str(task_uuid)))
    except (ValueError, KeyError):
        return set()
    if task is None:
        return set()
    meta = lv.task_meta.get(task.workflow.spec.name, {}).get(task.task_spec.bpmn_id, {})
    role = meta.get("role") or ""
    keys = set(_PLACEHOLDER.findall(role))
    unit_key = meta.get("unit_key")
    if not unit_key and keys:
        resolved = _PLACEHOLDER.sub(lambda m: str(task.data.get(m.group(1), m.group(0))), role)
        unit_key = registry.known_roles().get(resolved)
    if unit_key:
        keys.add(unit_key.split(".")[0])
    return keys


def _task_context(wf: BpmnWorkflow, task_uuid: str) -> dict:
    """The data of a task of `wf` (what form rules compare with), {} when it is not there."""
    try:
        task = wf.get_task_from_id(UUID(str(task_uuid)))
    except (ValueError, KeyError):
        task = None
    return dict(task.data) if task is not None else {}


_validators: dict[int, tuple[dict, object]] = {}


def _validator(schema: dict):
    """A compiled validator per schema: deployed schemas are cached objects, so identity is the
    cheap key; schemas rebuilt per request (choices resolved) are keyed by their content."""
    hit = _validators.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    validator = _validator_for(json.dumps(schema, sort_keys=True))
    if len(_validators) > 512:
        _validators.clear()
    _validators[id(schema)] = (schema, validator)
    return validator


@lru_cache(maxsize=256)
def _validator_for(schema_json: str):
    schema = json.loads(schema_json)
    return jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())


def _missing_field(error) -> str:
    if error.validator == "required":
        match = re.match(r"'([^']+)' is a required property", error.message)
        if match:
            return match.group(1)
    if error.validator == "additionalProperties":
        match = re.search(r"\('([^']+)'", error.message)
        if match:
            return match.group(1)
    return ""


def complete(session: Session, task_uuid: str, data: dict, *, actor: str | None = None,
             now: datetime | None = None) -> Instance:
    """Complete a READY user task with form data validated against its JSON Schema."""
    query = (select(Instance, InboxTask.form, InboxTask.task).join(InboxTask, InboxTask.instance_id == Instance.id)
             .where(InboxTask.id == task_uuid).execution_options(populate_existing=True))
    if is_postgres(session):
        query = query.with_for_update(of=Instance)
    found = session.execute(query).first()
    if found is None:
        raise TaskNotReady("this task has already been completed or is no longer waiting")
    instance, form, task_id = found
    if instance.status not in ACTIVE:
        raise InstanceNotActive(f"instance {instance.id} is {instance.status}", status=instance.status)
    # on PostgreSQL another transaction may have completed the task while we waited for the lock
    # (SQLite write transactions start with the write lock held, so the first read is current)
    if is_postgres(session) and session.scalar(select(InboxTask.id).where(InboxTask.id == task_uuid)) is None:
        raise TaskNotReady("this task has already been completed or is no longer waiting")
    if not isinstance(data, dict):
        raise FormInvalid([FieldError("", "form data must be an object")])
    wf = load_workflow(session, instance)
    owned = [FieldError(k, "is filled in by the system", kind="readOnly")
             for k in sorted(assignment_keys(wf, loaded_version(session, instance), task_uuid) & set(data))]
    try:
        validate_form(form_schema(session, instance, form), data, _task_context(wf, task_uuid))
    except FormInvalid as exc:
        named = {e.field for e in owned}
        raise FormInvalid(owned + [e for e in exc.errors if e.field.split(".")[0] not in named]) from None
    if owned:   # who does the task is the procedure's to say, whatever the form declares
        raise FormInvalid(owned)
    action = {"kind": "complete", "task_uuid": task_uuid, "task": task_id, "data": data}
    return _perform(session, instance, wf, action, actor, now)


def send_message(session: Session, instance_id: int, name: str, payload=None, *, correlations: dict | None = None,
                 actor: str | None = None, now: datetime | None = None) -> Instance:
    """Deliver message `name` (with its payload and correlation keys) to a waiting instance."""
    instance = _active_instance(session, instance_id)
    wf = load_workflow(session, instance)
    action = {"kind": "message", "name": name, "payload": payload, "correlations": correlations or {}}
    return _perform(session, instance, wf, action, actor, now)


def fire_timers(session: Session, instance_id: int, now: datetime | None = None) -> Instance:
    """Fire whatever is due in one instance (its timer rows say when)."""
    instance = _active_instance(session, instance_id)
    wf = load_workflow(session, instance)
    return _perform(session, instance, wf, {"kind": "timer"}, None, now)


def retry(session: Session, instance_id: int, *, actor: str | None = None, reason: str | None = None,
          now: datetime | None = None) -> Instance:
    """Run the action that raised the incident again."""
    instance = _lock_instance(session, instance_id)
    if instance.status != "incident" or not instance.incident:
        raise InstanceNotActive(f"instance {instance_id} has no incident", status=instance.status)
    incident = instance.incident
    action = incident["action"]
    audit(session, instance.id, "retry", actor=actor, task=incident.get("task"), reason=reason,
          detail={"incident": incident.get("message")})
    instance.status, instance.incident = incident.get("previous_status") or "running", None
    wf = load_workflow(session, instance)
    if action["kind"] == "complete":
        row = session.get(InboxTask, action["task_uuid"])
        validate_form(form_schema(session, instance, row.form if row else None), action["data"],
                      _task_context(wf, action["task_uuid"]))
    if action["kind"] == "start":
        action = {"kind": "start", "data": action.get("data")}
    return _perform(session, instance, wf, action, actor, now)


def instance_data(session: Session, instance: Instance) -> dict:
    """The data an instance carries now: the newest data among its ready/waiting tasks, else the last."""
    wf = load_workflow(session, instance)
    tasks = wf.get_tasks(state=TaskState.READY | TaskState.WAITING) or [wf.last_task or wf.task_tree]
    data: dict = {}
    for task in tasks:
        if task is not None:
            data.update(task.data)
    return data


def task_data(session: Session, instance: Instance, task_uuid: str) -> dict:
    wf = load_workflow(session, instance)
    task = wf.get_task_from_id(UUID(task_uuid))
    if task is None:
        raise NotFound(f"task {task_uuid} is not part of instance {instance.id}")
    return dict(task.data)
