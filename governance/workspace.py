"""An officer's workspace: the inbox, completing tasks (with the register hooks of multi-instance
tasks), the quarterly joint meeting for many whistles at once, reassignment, whistle visibility
and search, the timeline. No Flask: the web layer and the JSON API both call these functions.

`officer` is anything with `username`, `role` and `unit_id` (an `Officer` row or the web app's user).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, and_, case, cast, false, func, null, or_, select, true, type_coerce

from engine import runtime
from engine.clock import now as clock_now
from engine.errors import EngineError, NotFound
from engine.models import AuditEvent, Deployment, InboxTask, Instance, TZDateTime

from .calendar import parse_datetime
from . import duty_reports
from .consultations import record_consultation_answer
from .directory import ancestor_of_kind, get_unit
from .dispatch_scope import scope_form
from .forms import narrow_to_rules, task_rule_context
from .evaluations import record_evaluation
from .models import Consultation, Officer, TaskOrder, Unit, Whistle, WhistleEvent
from .register import record_event, record_reply, record_stage

SEE_ALL = ("admin", "city_org", "policy_staff")
ORG_ROLES = ("district_org", "city_org")
DUE_SOON = timedelta(days=2)


class Forbidden(EngineError):
    """The officer may not see or act on this."""
    code = "forbidden"


class WorkspaceError(EngineError):
    """An action was refused for a reason the officer can fix (e.g. unknown assignee)."""
    code = "bad_request"


# -- tasks an officer may do ---------------------------------------------------------------------

def _task_scope(officer):
    """The SQL condition for the inbox rows `officer` may do (joined with Whistle)."""
    if officer.role == "admin":
        return true()
    return and_(InboxTask.role == officer.role, InboxTask.unit_id == officer.unit_id)


def may_do(officer, task) -> bool:
    """The same rule as `_task_scope`, for a task already read (an InboxTask or a TaskItem)."""
    return officer.role == "admin" or (task.role == officer.role and task.unit_id == officer.unit_id)


def _with_whistle():
    return select(InboxTask, Whistle).outerjoin(Whistle, Whistle.instance_id == InboxTask.instance_id)


def _inbox_query(officer):
    return _with_whistle().where(_task_scope(officer))


def _listed_query(officer):
    """The inbox as listed: tasks of suspended, failed or cancelled instances wait out of sight."""
    return (_inbox_query(officer).join(Instance, Instance.id == InboxTask.instance_id)
            .where(Instance.status.in_(runtime.ACTIVE)))


def _due_column():
    """The task's deadline as SQL: its own `due_at`, else the register's deadline for that kind of
    task (report / completion), else the open consultation's reply deadline."""
    consultation_due = (select(func.max(Consultation.due_at))
                        .where(Consultation.whistle_id == Whistle.id, Consultation.closed_at.is_(None))
                        .correlate(Whistle).scalar_subquery())
    return type_coerce(case(
        (InboxTask.due_at.is_not(None), InboxTask.due_at),
        (InboxTask.task == "report_for_duty", Whistle.report_due),
        (InboxTask.task.in_(("complete_matter", "cooperate")), Whistle.complete_due),
        (InboxTask.task == "consultation_reply", consultation_due),
        else_=null()), TZDateTime).label("due")


def deadline_state(due: datetime | None, now: datetime | None = None) -> str:
    """'overdue' | 'soon' (within 2 days) | 'ok' | 'none'."""
    if due is None:
        return "none"
    now = now or clock_now()
    if due < now:
        return "overdue"
    if due - now <= DUE_SOON:
        return "soon"
    return "ok"


@dataclass
class TaskItem:
    id: str
    task: str
    name: str | None
    instance_id: int
    whistle_id: int | None
    whistle_no: str | None
    title: str | None
    category: str | None
    community_id: str | None
    role: str | None
    unit_id: str | None
    assignee: str | None
    due_at: datetime | None
    created_at: datetime
    state: str
    target_due: datetime | None = None    # R4: the priority table's earlier target (never a deadline)

    def as_dict(self) -> dict:
        from .calendar import iso
        return {"id": self.id, "task": self.task, "name": self.name, "instance_id": self.instance_id,
                "whistle_id": self.whistle_id, "whistle_no": self.whistle_no, "title": self.title,
                "category": self.category, "role": self.role, "unit_id": self.unit_id,
                "assignee": self.assignee, "due_at": iso(self.due_at), "created_at": iso(self.created_at),
                "deadline_state": self.state, "target_due": iso(self.target_due)}


_TARGET_TASKS = ("complete_matter", "cooperate")   # the tasks whose deadline is the completion one


def _items(session, stmt, now: datetime) -> list[TaskItem]:
    """TaskItems for a select of (InboxTask, Whistle) rows, their deadlines computed in SQL."""
    return [TaskItem(id=task.id, task=task.task, name=task.name, instance_id=task.instance_id,
                     whistle_id=whistle.id if whistle else None,
                     whistle_no=whistle.whistle_no if whistle else None,
                     title=whistle.title if whistle else None, category=whistle.category if whistle else None,
                     community_id=whistle.community_id if whistle else None, role=task.role,
                     unit_id=task.unit_id, assignee=task.assignee, due_at=due, created_at=task.created_at,
                     state=deadline_state(due, now),
                     target_due=whistle.target_due if whistle is not None and task.task in _TARGET_TASKS else None)
            for task, whistle, due in session.execute(stmt.add_columns(_due_column()))]


@dataclass
class InboxPage:
    items: list[TaskItem]
    total: int            # after filters
    page: int
    pages: int
    counts: dict          # all my tasks: total, overdue, soon, by_task {task: (name, n)}


def inbox(session, officer, *, task: str | None = None, category: str | None = None,
          overdue: bool = False, mine: bool = False, order: str = "newest", page: int = 1,
          per_page: int = 20, now: datetime | None = None) -> InboxPage:
    """The ready tasks `officer` may do, filtered, sorted (newest first or by due date), paged, all
    in SQL: three queries (counts, filtered total, one page) whatever the number of tasks."""
    now = now or clock_now()
    due = _due_column()
    is_overdue = due < type_coerce(now, TZDateTime)
    is_soon = and_(~is_overdue, due <= type_coerce(now + DUE_SOON, TZDateTime))
    by_task, total_all, n_overdue, n_soon = {}, 0, 0, 0
    for name_task, name, n, late, soon in session.execute(
            _listed_query(officer).with_only_columns(
                InboxTask.task, func.min(InboxTask.name), func.count(), func.sum(case((is_overdue, 1), else_=0)),
                func.sum(case((is_soon, 1), else_=0)), maintain_column_froms=True)
            .group_by(InboxTask.task).order_by(InboxTask.task)):
        by_task[name_task] = (name or name_task, n)
        total_all, n_overdue, n_soon = total_all + n, n_overdue + (late or 0), n_soon + (soon or 0)
    counts = {"total": total_all, "overdue": n_overdue, "soon": n_soon, "by_task": by_task}

    chosen = _listed_query(officer)
    if task:
        chosen = chosen.where(InboxTask.task == task)
    if category:
        chosen = chosen.where(Whistle.category == category)
    if overdue:
        chosen = chosen.where(is_overdue)
    if mine:
        chosen = chosen.where(InboxTask.assignee == officer.username)
    total = session.scalar(chosen.with_only_columns(func.count(), maintain_column_froms=True))
    per_page = max(1, min(int(per_page), 200))
    pages = max(1, -(-total // per_page))
    page = max(1, min(int(page), pages))
    if order == "due":
        chosen = chosen.order_by(case((due.is_(None), 1), else_=0), due, InboxTask.created_at, InboxTask.id)
    else:
        chosen = chosen.order_by(InboxTask.created_at.desc(), InboxTask.id)
    items = _items(session, chosen.limit(per_page).offset((page - 1) * per_page), now)
    return InboxPage(items, total, page, pages, counts)


def task_for(session, officer, task_id: str) -> tuple[InboxTask, Whistle | None]:
    """The ready task `task_id` if `officer` may do it: TaskNotReady when it is gone,
    Forbidden when it belongs to someone else."""
    runtime.get_ready_task(session, task_id)   # raises TaskNotReady
    row = session.execute(_with_whistle().where(InboxTask.id == task_id)).first()
    if row is None:
        runtime.get_ready_task(session, task_id)
    task, whistle = row
    allowed = session.execute(_inbox_query(officer).where(InboxTask.id == task_id)).first()
    if allowed is None:
        # gone since the first look (another officer just completed it): a conflict, not a refusal
        runtime.get_ready_task(session, task_id)
        raise Forbidden("this task belongs to another unit")
    return task, whistle


def task_item(session, task: InboxTask) -> TaskItem:
    return _items(session, _with_whistle().where(InboxTask.id == task.id), clock_now())[0]


def instance_tasks(session, instance_id: int) -> list[TaskItem]:
    """Every ready task of one instance, oldest first (the whistle page)."""
    return _items(session, _with_whistle().where(InboxTask.instance_id == instance_id)
                  .order_by(InboxTask.created_at, InboxTask.id), clock_now())


def task_form(session, task: InboxTask) -> dict | None:
    """The task's form, its directory choices resolved; an org department's department fields
    list only the departments of its level (R5/R6, governance.dispatch_scope)."""
    instance = session.get(Instance, task.instance_id)
    schema = scope_form(session, runtime.form_schema(session, instance, task.form), task.role, task.unit_id)
    return narrow_to_rules(schema, task_rule_context(session, task))


def task_values(session, task: InboxTask, schema: dict | None = None) -> dict:
    """The task's own data limited to its form's fields (what the form shows as current values)."""
    instance = session.get(Instance, task.instance_id)
    data = runtime.task_data(session, instance, task.id)
    if schema is None:
        return {}
    return {k: data[k] for k in (schema.get("properties") or {}) if k in data}


def task_context(session, task: InboxTask) -> dict:
    """Facts of a multi-instance task taken from its own data (which department it is about)."""
    instance = session.get(Instance, task.instance_id)
    data = runtime.task_data(session, instance, task.id)
    keys = ("department_id", "cooperating_department_id", "lead_department_id", "consultation_due",
            "report_due", "complete_due", "report_overdue", "complete_overdue", "joint_meeting_at",
            "task_order_no", "level")
    context = {k: data[k] for k in keys if data.get(k) not in (None, "", [])}
    context.update(duty_reports.duty_context(data))   # a report for duty: which department, where, role
    return context


def next_tasks(session, instance_id: int) -> list[dict]:
    from .calendar import iso
    rows = session.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id)
                           .order_by(InboxTask.created_at, InboxTask.id))
    return [{"id": t.id, "task": t.task, "name": t.name, "role": t.role, "unit_id": t.unit_id,
             "due_at": iso(t.due_at)} for t in rows]


# -- completing ------------------------------------------------------------------------------------

def _hooks(session, officer, task: InboxTask, whistle: Whistle | None, context: dict, data: dict) -> None:
    """Record in the register what a multi-instance task keeps only in its own data."""
    if task.task in ("report_for_duty", "joint_consultation"):   # also in a joint matter (no whistle)
        duty_reports.on_task(session, officer, task, whistle, context, data)
    if whistle is None:
        return
    dept = context.get("department_id") or context.get("cooperating_department_id") or officer.unit_id
    if task.task == "consultation_reply":
        record_consultation_answer(session, whistle.id, dept, data.get("answer"), data.get("reason"),
                                   data.get("suggested_unit_id"))
    elif task.task == "evaluate_department":
        record_evaluation(session, whistle, department_id=dept, grade=data["grade"],
                          timeliness=data["timeliness"], plan=data["plan"], result=data["result"],
                          attitude=data["attitude"], opinion=data.get("opinion"), actor=officer.username)
    elif task.task == "cooperate":
        from .directory import unit_name
        record_event(session, whistle, "cooperate", actor=officer.username,
                     text=f"{unit_name(session, dept)}配合办理：{data.get('contribution', '')}")


# Before dispatch no service task moves the register on; the task the whistle now waits for does.
_EARLY_STAGES = {"triage": "triage", "resolve_locally": "local", "street_coordinate": "street",
                 "joint_meeting": "joint_meeting", "street_review": "street_review"}


def _follow_early_stage(session, whistle: Whistle | None, instance_id: int, actor: str) -> None:
    if whistle is None or whistle.stage not in set(_EARLY_STAGES.values()) | {"waiting_joint_meeting"}:
        return
    waiting = session.scalars(select(InboxTask.task).where(InboxTask.instance_id == instance_id)).all()
    stages = [_EARLY_STAGES[t] for t in waiting if t in _EARLY_STAGES]
    if stages and stages[0] != whistle.stage:
        record_stage(session, whistle, stages[0], actor=actor)


def complete_task(session, officer, task_id: str, data: dict) -> Instance:
    """Complete a task `officer` may do, in the caller's transaction: the register hooks, then the
    engine step; any error leaves nothing done once the caller rolls back.

    The hooks run first so that handlers of the same step (consultation.close, evaluation.record)
    see what the officer answered. If the step ends in an incident, the answer stays recorded and
    the engine continues from it on retry."""
    task, whistle = task_for(session, officer, task_id)
    context = task_context(session, task)
    instance = session.get(Instance, task.instance_id)
    runtime.validate_form(task_form(session, task), data)
    stage_before = whistle.stage if whistle is not None else None
    _hooks(session, officer, task, whistle, context, data)
    session.flush()
    instance = runtime.complete(session, task_id, data, actor=officer.username)
    reply = data.get("reply") if isinstance(data, dict) else None
    if whistle is not None and isinstance(reply, str) and reply.strip() and not _reply_logged(session, whistle, reply):
        record_reply(session, whistle, reply, actor=officer.username, stage=stage_before)
    _follow_early_stage(session, whistle, instance.id, officer.username)
    session.flush()
    return instance


def waiting_for_others(session, officer) -> list[dict]:
    """R13: the matters `officer`'s department leads whose completion waits for other departments
    (their reports for duty, the consultation, their cooperation), each with a 'waiting for' line."""
    if officer.role != "department" or not officer.unit_id:
        return []
    return duty_reports.lead_waiting(session, officer.unit_id)


def _reply_logged(session, whistle: Whistle, reply: str) -> bool:
    """A handler may already have logged this reply in the step (case.update with reply)."""
    session.flush()
    recent = session.scalars(select(WhistleEvent.reply).where(WhistleEvent.whistle_id == whistle.id)
                             .order_by(WhistleEvent.id.desc()).limit(5)).all()
    return reply.strip() in [r.strip() for r in recent if r]


def joint_meeting_tasks(session, officer) -> list[TaskItem]:
    """The community's waiting `joint_meeting` tasks (R3), oldest first."""
    return _items(session, _listed_query(officer).where(InboxTask.task == "joint_meeting")
                  .order_by(InboxTask.created_at, InboxTask.id), clock_now())


def record_joint_meeting(session, officer, task_ids: list[str], data: dict) -> list[Instance]:
    """R3: one meeting's decision and minutes applied to each chosen `joint_meeting` task, each its
    own engine completion, all in the caller's transaction (all or nothing)."""
    if not task_ids:
        raise WorkspaceError("no whistle chosen")
    done = []
    for task_id in dict.fromkeys(task_ids):
        task, _ = task_for(session, officer, task_id)
        if task.task != "joint_meeting":
            raise WorkspaceError(f"task {task_id} is not a joint meeting task")
        done.append(complete_task(session, officer, task_id, dict(data)))
    return done


# -- reassignment ---------------------------------------------------------------------------------

def _within(session, unit_id: str | None, ancestor_id: str | None) -> bool:
    unit, seen = get_unit(session, unit_id), set()
    while unit is not None and unit.id not in seen:
        if unit.id == ancestor_id:
            return True
        seen.add(unit.id)
        unit = get_unit(session, unit.parent_id)
    return False


def assignable_officers(session, officer, task: InboxTask, whistle: Whistle | None = None) -> list[Officer]:
    """Officers who may be given `task`: the task's role in the task's unit (or, for a task
    without unit, the acting officer's unit)."""
    unit_id = task.unit_id or (officer.unit_id if officer.role == task.role else None)
    if unit_id is None and whistle is not None and task.role == "district_org":
        unit_id = whistle.district_id
    stmt = select(Officer).where(Officer.active.is_(True), Officer.role == task.role)
    stmt = stmt.where(Officer.unit_id == unit_id) if unit_id else stmt.where(false())
    return list(session.scalars(stmt.order_by(Officer.username)))


def can_reassign(session, officer, task: InboxTask, whistle: Whistle | None) -> bool:
    if officer.role == "admin":
        return True
    if session.execute(_inbox_query(officer).where(InboxTask.id == task.id)).first() is not None:
        return True
    if officer.role in ORG_ROLES and task.unit_id:
        return officer.role == "city_org" or _within(session, task.unit_id, officer.unit_id)
    return False


def reassign(session, officer, task_id: str, username: str | None) -> InboxTask:
    """Give a ready task to one officer of its unit (None/'' clears it); audited."""
    runtime.get_ready_task(session, task_id)
    task = session.get(InboxTask, task_id)
    whistle = session.scalar(select(Whistle).where(Whistle.instance_id == task.instance_id))
    if not can_reassign(session, officer, task, whistle):
        raise Forbidden("this task belongs to another unit")
    username = (username or "").strip() or None
    if username is not None and username not in {o.username for o in assignable_officers(session, officer, task, whistle)}:
        raise WorkspaceError(f"{username} is not an officer of the task's unit")
    before = task.assignee
    task.assignee = username
    runtime.audit(session, task.instance_id, "reassign", actor=officer.username, task=task.task,
                  detail={"task_uuid": task.id, "from": before, "to": username})
    session.flush()
    return task


# -- whistles an officer may see -------------------------------------------------------------------

def _whistle_scope(officer):
    role, unit = officer.role, officer.unit_id
    if role in SEE_ALL:
        return true()
    if role in ("community", "grid_worker"):
        return Whistle.community_id == unit
    if role == "street":
        return Whistle.street_id == unit
    if role == "district_org":
        return Whistle.district_id == unit
    if role == "department":
        consulted = select(Consultation.id).where(Consultation.whistle_id == Whistle.id,
                                                  Consultation.department_id == unit).exists()
        ordered = select(TaskOrder.id).where(TaskOrder.whistle_id == Whistle.id, or_(
            TaskOrder.lead_department_id == unit,
            cast(TaskOrder.cooperating_department_ids, String).like(f'%"{unit}"%'))).exists()
        tasked = select(InboxTask.id).where(InboxTask.instance_id == Whistle.instance_id,
                                            InboxTask.role == "department", InboxTask.unit_id == unit).exists()
        return or_(Whistle.lead_department_id == unit,
                   cast(Whistle.cooperating_department_ids, String).like(f'%"{unit}"%'),
                   consulted, ordered, tasked)
    return false()


def can_see_whistle(session, officer, whistle: Whistle) -> bool:
    return session.scalar(select(Whistle.id).where(Whistle.id == whistle.id, _whistle_scope(officer))) is not None


def visible_whistle(session, officer, key) -> Whistle:
    """The whistle `key` (id or number) if `officer` may see it; NotFound / Forbidden otherwise."""
    from .register import get_whistle
    whistle = get_whistle(session, key)
    if whistle is None:
        raise NotFound(f"whistle {key} does not exist")
    if not can_see_whistle(session, officer, whistle):
        raise Forbidden("this whistle is not visible to your unit")
    return whistle


@dataclass
class SearchPage:
    items: list[Whistle]
    total: int
    page: int
    pages: int


def search_whistles(session, officer, *, q: str | None = None, category: str | None = None,
                    stage: str | None = None, date_from=None, date_to=None, page: int = 1,
                    per_page: int = 20) -> SearchPage:
    """Whistles visible to `officer` by number or words (title, description, location), category,
    stage and report date (local dates, inclusive), newest first."""
    stmt = select(Whistle).where(_whistle_scope(officer))
    q = (q or "").strip()
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Whistle.whistle_no == q, Whistle.whistle_no.ilike(like), Whistle.title.ilike(like),
                              Whistle.description.ilike(like), Whistle.location.ilike(like)))
    if category:
        stmt = stmt.where(Whistle.category == category)
    if stage:
        stmt = stmt.where(Whistle.stage == stage)
    if date_from:
        stmt = stmt.where(Whistle.created_at >= parse_datetime(str(date_from), default_time=datetime.min.time()))
    if date_to:
        end = parse_datetime(str(date_to), default_time=datetime.min.time()) + timedelta(days=1)
        stmt = stmt.where(Whistle.created_at < end)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    per_page = max(1, min(int(per_page), 200))
    pages = max(1, -(-total // per_page))
    page = max(1, min(int(page), pages))
    items = list(session.scalars(stmt.order_by(Whistle.id.desc()).limit(per_page).offset((page - 1) * per_page)))
    return SearchPage(items, total, page, pages)


# -- the whistle page ------------------------------------------------------------------------------

def timeline(session, whistle: Whistle) -> list[dict]:
    """Register events and engine audit events of the whistle's instance, oldest first:
    {at, source: register|engine, kind, actor, who: {name, unit_id, unit_name} | None, stage, task,
    task_id, text, reply, detail, written: [{field, title, title_en, text}]}. `written` holds
    what the officer wrote in the form of a completed task (its free texts, as submitted)."""
    from .handoffs import Forms, People
    people = People(session)
    out = [{"at": e.at, "source": "register", "kind": e.kind, "actor": e.actor, "who": people(e.actor),
            "stage": e.stage, "task": None, "task_id": None, "text": e.text, "reply": e.reply, "detail": None,
            "written": [], "order": (0, e.id)}
           for e in session.scalars(select(WhistleEvent).where(WhistleEvent.whistle_id == whistle.id))]
    if whistle.instance_id:
        names = _task_names(session, whistle.instance_id)
        forms = Forms(session, whistle.instance_id)
        for a in session.scalars(select(AuditEvent).where(AuditEvent.instance_id == whistle.instance_id)):
            written = forms.written(a.task, (a.detail or {}).get("data")) if a.action == "complete" else []
            out.append({"at": a.at, "source": "engine", "kind": a.action, "actor": a.actor, "who": people(a.actor),
                        "stage": None, "task": names.get(a.task, a.task), "task_id": a.task, "text": a.reason,
                        "reply": None, "detail": a.detail, "written": written, "order": (1, a.id)})
    out.sort(key=lambda e: (e["at"], e["order"]))
    for e in out:
        e.pop("order")
    return out


def _task_names(session, instance_id: int) -> dict[str, str]:
    """BPMN task id -> its label, from the instance's deployment."""
    instance = session.get(Instance, instance_id)
    deployment = session.get(Deployment, instance.deployment_id) if instance else None
    names: dict[str, str] = {}
    for tasks in ((deployment.task_meta or {}).values() if deployment else []):
        for task_id, meta in tasks.items():
            if meta.get("name"):
                names.setdefault(task_id, meta["name"])
    return names


def involved_departments(session, whistle: Whistle) -> list[dict]:
    """[{id, name, role: lead|cooperating|consulted}] of the whistle."""
    out: dict[str, dict] = {}

    def add(unit_id, role):
        if unit_id and unit_id not in out:
            unit = session.get(Unit, unit_id)
            out[unit_id] = {"id": unit_id, "name": unit.name if unit else unit_id, "role": role}

    add(whistle.lead_department_id, "lead")
    for d in whistle.cooperating_department_ids or []:
        add(d, "cooperating")
    for c in session.scalars(select(Consultation).where(Consultation.whistle_id == whistle.id).order_by(Consultation.id)):
        add(c.department_id, "consulted")
    return list(out.values())


def diagrams(session, whistle: Whistle) -> list[dict]:
    """The deployed BPMN files that show the whistle's position: [{name, xml, active: [element
    ids where it stands there], active_names}]; the main process first, then each called process
    it is in."""
    if not whistle.instance_id:
        return []
    instance = session.get(Instance, whistle.instance_id)
    if instance is None:
        return []
    deployment = session.get(Deployment, instance.deployment_id)
    files = {**(deployment.dependencies or {}), **(deployment.files or {})}

    def file_of(process_id):
        for name, text in files.items():
            if name.endswith(".bpmn") and isinstance(text, str) and f'id="{process_id}"' in text \
                    and "<bpmn:process" in text:
                return name
        return None

    try:
        current = runtime.current_elements(session, instance)
    except Exception:     # a state that cannot be read still shows the diagram, unmarked
        current = {}
    wanted: dict[str, dict[str, str | None]] = {}
    for process_id in dict.fromkeys([instance.process_id, *current]):
        name = file_of(process_id)
        if name:
            wanted.setdefault(name, {}).update(current.get(process_id, {}))
    return [{"name": name, "xml": files[name], "active": list(active), "active_names": list(active.values())}
            for name, active in wanted.items()]


def community_of(session, unit_id: str | None) -> Unit | None:
    return ancestor_of_kind(session, unit_id, "community")


INTAKE_ROLES = ("grid_worker", "community", "street", "district_org", "city_org", "admin")


def intake_communities(session, officer) -> list[Unit]:
    """The communities `officer` may report a whistle to (R1): a grid worker or community its own,
    a street its communities, a district's org department the district's, the city all."""
    from .directory import units as all_units
    role, unit = officer.role, officer.unit_id
    if role not in INTAKE_ROLES:
        return []
    communities = all_units(session, "community")
    if role in ("grid_worker", "community"):
        return [c for c in communities if c.id == unit]
    if role in ("street", "district_org"):
        return [c for c in communities if _within(session, c.id, unit)]
    return communities
