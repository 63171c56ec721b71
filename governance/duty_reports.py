"""R8/R9: every dispatched department — the lead and each cooperating one — reports for duty at
the whistling community (at each one, in a joint matter) within the order's report window, with
its own leader, contact and work plan, and is flagged overdue on its own timeliness only.
R13: the lead department's recorded joint consultation (共同协商) with the cooperating departments.

    items = open_reports(session, whistle=w, data=data, at=at)    # handler duty.open: one row each
    record_report(session, duty=item, data=form, at=at, actor=...) # the department's own task
    flag_overdue_reports(session, w, at=at)                        # the report deadline's timer

The handling diagram runs `report_for_duty` once per item (multi-instance over `duties`; an item
is {department_id, community_id, role, whistle_id}); the workspace hooks call `on_task` when a
department completes its report or the lead records the consultation. Nothing here commits.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select

from engine.clock import now
from engine.errors import FieldError, FormInvalid

from .calendar import iso, to_local
from .consultations import normalise_ids
from .directory import org_unit_id, unit_name
from .duty_models import DepartmentReport, JointConsultation
from .models import TaskOrder, Whistle
from .notices import notify
from .register import current_order, record_event, record_stage

ROLE_NAMES = {"lead": "牵头", "cooperating": "配合"}
# tasks of other departments the lead department waits for before it can report completion (R13)
WAITED_TASKS = ("report_for_duty", "joint_consultation", "cooperate")


# -- who reports where ---------------------------------------------------------------------------

def _joint_whistles(session, joint) -> list[Whistle]:
    from .joint import linked_whistles
    return linked_whistles(session, joint)


def _departments(order_or_data, first_round: bool) -> list[tuple[str, str]]:
    if isinstance(order_or_data, TaskOrder):
        lead, coop = order_or_data.lead_department_id, order_or_data.cooperating_department_ids
    else:
        lead, coop = order_or_data.get("lead_department_id"), order_or_data.get("cooperating_department_ids")
    out = [(str(lead), "lead")] if lead else []
    if first_round:
        out += [(d, "cooperating") for d in normalise_ids(coop or []) if d != lead]
    return out


def _open_rows(session, whistle: Whistle, *, at: datetime, data: dict) -> list[DepartmentReport]:
    """Rows of this whistle's current order for a new round: every department the first time,
    the lead department alone after a rework (R12: the matter goes back to the lead)."""
    order = current_order(session, whistle)
    if order is None:
        return []
    last = session.scalar(select(func.max(DepartmentReport.round))
                          .where(DepartmentReport.task_order_no == order.order_no))
    round_ = 0 if last is None else last + 1
    due = whistle.report_due or order.report_due
    rows = []
    for dept, role in _departments(order, round_ == 0):
        row = DepartmentReport(whistle_id=whistle.id, task_order_no=order.order_no, department_id=dept,
                               role=role, community_id=whistle.community_id, round=round_, opened_at=at,
                               report_due=due)
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _item(row: DepartmentReport) -> dict:
    return {"department_id": row.department_id, "community_id": row.community_id, "role": row.role,
            "whistle_id": row.whistle_id}


def open_reports(session, *, whistle: Whistle | None = None, joint=None, data: dict | None = None,
                 at: datetime | None = None) -> list[dict]:
    """R8 (and R14): one report for duty per dispatched department at each whistling community,
    recorded as a row tied to that whistle's task order → the diagram's `duties` items, sorted
    by department (lead first) and community."""
    at, data = at or now(), data or {}
    rows: list[DepartmentReport] = []
    if whistle is not None:
        rows = _open_rows(session, whistle, at=at, data=data)
    elif joint is not None:
        for w in _joint_whistles(session, joint):
            rows += _open_rows(session, w, at=at, data=data)
    if rows:
        order = {dept: n for n, (dept, _role) in enumerate(_departments(data, True))}
        rows.sort(key=lambda r: (r.role != "lead", order.get(r.department_id, 99), r.department_id, r.whistle_id))
        return [_item(r) for r in rows]
    # no register row (a diagram run on its own): the departments of the data at its communities
    communities = normalise_ids(data.get("community_ids") or [data.get("community_id")])
    return [{"department_id": d, "community_id": c, "role": role, "whistle_id": None}
            for d, role in _departments(data, not data.get("rework_count")) for c in communities]


def duty_context(data: dict) -> dict:
    """What a `report_for_duty` task is about, from its multi-instance item (for the inbox, the
    task page and the hooks)."""
    duty = (data or {}).get("duty")
    if not isinstance(duty, dict):
        return {}
    out = {"department_id": duty.get("department_id"), "duty_role": duty.get("role"),
           "duty_community_id": duty.get("community_id"), "duty_whistle_id": duty.get("whistle_id")}
    return {k: v for k, v in out.items() if v not in (None, "")}


# -- reporting ------------------------------------------------------------------------------------

def _row_for(session, whistle_id, department_id: str, community_id: str | None) -> DepartmentReport | None:
    whistle = session.get(Whistle, int(whistle_id)) if whistle_id else None
    if whistle is None or not whistle.task_order_no:
        return None
    stmt = (select(DepartmentReport).where(DepartmentReport.task_order_no == whistle.task_order_no,
                                           DepartmentReport.department_id == department_id)
            .order_by(DepartmentReport.reported_at.is_not(None), DepartmentReport.round.desc(),
                      DepartmentReport.id.desc()))
    if community_id:
        stmt = stmt.where(DepartmentReport.community_id == community_id)
    return session.scalars(stmt).first()


def _report_text(session, row: DepartmentReport) -> str:
    visited = row.visited_on.isoformat() if row.visited_on else "—"
    return (f"{unit_name(session, row.department_id)}（{ROLE_NAMES.get(row.role, row.role)}）已到"
            f"{unit_name(session, row.community_id)}报到（{visited}）。分管负责人：{row.leader_name} {row.leader_phone}；"
            f"具体联系人：{row.contact_name} {row.contact_phone}。工作方案：{row.work_plan}")


def _date(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def record_report(session, *, duty: dict, data: dict, at: datetime | None = None,
                  actor: str | None = None) -> DepartmentReport | None:
    """R8/R9: the department of `duty` reported at its community with the form `data`. Late
    (after its own report_due) → its row is flagged overdue and notified once; the lead's report
    moves the whistle to 'reported' (as before), a cooperating one is logged on the timeline."""
    at = at or now()
    row = _row_for(session, duty.get("whistle_id"), duty.get("department_id"), duty.get("community_id"))
    if row is None:
        return None
    whistle = session.get(Whistle, row.whistle_id)
    row.reported_at, row.reported_by = at, actor
    row.visited_on = _date(data.get("visited_on"))
    for key in ("leader_name", "leader_phone", "contact_name", "contact_phone", "work_plan"):
        setattr(row, key, data.get(key))
    if row.report_due is not None and at > row.report_due:
        _flag(session, whistle, row, at)
    text = _report_text(session, row)
    if row.role == "lead":
        record_stage(session, whistle, "reported", actor=actor, at=at, text=text)
    else:
        record_event(session, whistle, "report_for_duty", actor=actor, at=at, text=text)
    session.flush()
    return row


def _flag(session, whistle: Whistle, row: DepartmentReport, at: datetime) -> bool:
    """Flag one department's report overdue; notify the org department of the order's level and
    the community once. The lead's lateness is also the whistle's and order's report flag."""
    row.overdue = True
    order = current_order(session, whistle)
    if row.role == "lead":
        whistle.report_overdue = True
        if order is not None and order.order_no == row.task_order_no:
            order.report_overdue = True
    if row.notified_at is not None:
        return False
    row.notified_at = at
    level = (order.level if order is not None else None) or whistle.level or "district"
    text = (f"【逾期】“{whistle.title}”（{whistle.whistle_no}）：{unit_name(session, row.department_id)}"
            f"（{ROLE_NAMES.get(row.role, row.role)}部门）未在 {iso(row.report_due)[:10]} 前到"
            f"{unit_name(session, row.community_id)}报到。")
    for unit_id in dict.fromkeys([org_unit_id(level, whistle.district_id), row.community_id]):
        notify(session, unit_id, "report_overdue", text=text, whistle_id=whistle.id, at=at)
    record_event(session, whistle, "report_overdue", at=at, text=text)
    return True


def has_reports(session, whistle: Whistle) -> bool:
    return bool(whistle.task_order_no) and session.scalar(
        select(func.count(DepartmentReport.id)).where(DepartmentReport.task_order_no == whistle.task_order_no)) > 0


def flag_overdue_reports(session, whistle: Whistle, *, at: datetime | None = None) -> bool:
    """The report deadline passed: flag each department of the current order that has not yet
    reported by its own report_due (the ones that did are left alone) → whether any was flagged."""
    at = at or now()
    if not whistle.task_order_no:
        return False
    rows = session.scalars(select(DepartmentReport).where(
        DepartmentReport.task_order_no == whistle.task_order_no, DepartmentReport.reported_at.is_(None),
        DepartmentReport.report_due <= at).order_by(DepartmentReport.id)).all()
    flagged = False
    for row in rows:
        flagged = _flag(session, whistle, row, at) or flagged
    session.flush()
    return flagged


def reports_of(session, whistle: Whistle, department_id: str | None = None,
               task_order_no: str | None = None) -> list[DepartmentReport]:
    """The rows of the whistle (of one department / one order when given), oldest first."""
    stmt = select(DepartmentReport).where(DepartmentReport.whistle_id == whistle.id)
    if department_id:
        stmt = stmt.where(DepartmentReport.department_id == department_id)
    if task_order_no:
        stmt = stmt.where(DepartmentReport.task_order_no == task_order_no)
    return list(session.scalars(stmt.order_by(DepartmentReport.round, DepartmentReport.id)))


def lead_report(session, whistle: Whistle) -> DepartmentReport | None:
    """The lead department's (first, reported) report under the whistle's current order, or None
    when the order keeps no reports per department or the lead has not reported through its inbox."""
    if not whistle.task_order_no:
        return None
    rows = session.scalars(select(DepartmentReport).where(
        DepartmentReport.task_order_no == whistle.task_order_no, DepartmentReport.role == "lead",
        DepartmentReport.reported_at.is_not(None)).order_by(DepartmentReport.round, DepartmentReport.id)).all()
    return rows[0] if rows else None


def report_facts(session, whistle: Whistle, order: TaskOrder, department_id: str) -> dict | None:
    """R16: the evaluation facts of one department from ITS OWN reports under `order` (None when
    the order has no report rows, e.g. one issued before reports were kept per department)."""
    rows = reports_of(session, whistle, department_id, order.order_no)
    if not rows:
        return None
    first = [r for r in rows if r.round == rows[0].round]
    reported = [r.reported_at for r in first if r.reported_at is not None]
    days = None
    if reported and len(reported) == len(first):
        days = round((max(reported) - order.issued_at).total_seconds() / 86400, 1)
    return {"days_to_report": days, "report_overdue": any(r.overdue for r in rows),
            "reported_at": iso(max(reported)) if reported and len(reported) == len(first) else None}


def as_dicts(session, rows) -> list[dict]:
    """Rows for pages and the API: department, role, community, due, reported, overdue, fields."""
    return [{"department_id": r.department_id, "department_name": unit_name(session, r.department_id),
             "role": r.role, "community_id": r.community_id, "community_name": unit_name(session, r.community_id),
             "task_order_no": r.task_order_no, "round": r.round, "report_due": iso(r.report_due),
             "reported_at": iso(r.reported_at), "overdue": bool(r.overdue),
             "visited_on": r.visited_on.isoformat() if r.visited_on else None, "leader_name": r.leader_name,
             "leader_phone": r.leader_phone, "contact_name": r.contact_name, "contact_phone": r.contact_phone,
             "work_plan": r.work_plan} for r in rows]


# -- R13: the joint consultation -----------------------------------------------------------------

def _split(text: str, departments: list[tuple[str, str]]) -> dict:
    """Lines 'department: share' (name or id, full-width or ASCII colon) → {department id: share}."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        head, sep, share = line.replace("：", ":").partition(":")
        if not sep:
            continue
        head = head.strip(" -·•\t")
        for dept, name in departments:
            if head in (dept, name) and share.strip():
                out[dept] = (out.get(dept, "") + "\n" + share.strip()).strip()
    return out


def check_consultation(session, data: dict, *, lead: str, cooperating, dispatched_at: datetime | None,
                       at: datetime) -> None:
    """The consultation's date lies between the dispatch and today; its participants are
    cooperating departments of the order. Raises FormInvalid with the fields at fault."""
    errors = []
    held = _date(data.get("held_on"))
    today = to_local(at).date()
    if held is None:
        errors.append(FieldError("held_on", "请填写协商日期"))
    elif held > today:
        errors.append(FieldError("held_on", "协商日期不能晚于今天"))
    elif dispatched_at is not None and held < to_local(dispatched_at).date():
        errors.append(FieldError("held_on", "协商日期不能早于派单日期"))
    cooperating = normalise_ids(cooperating or [])
    participants = normalise_ids(data.get("participant_ids") or [])
    strangers = [p for p in participants if p not in cooperating]
    if not participants:
        errors.append(FieldError("participant_ids", "请选择参加协商的配合部门"))
    elif strangers:
        errors.append(FieldError("participant_ids", "参加协商的只能是本任务单的配合部门："
                                 + "、".join(unit_name(session, p) for p in strangers) + " 不是"))
    if not str(data.get("work_split") or "").strip():
        errors.append(FieldError("work_split", "请写明各部门的分工"))
    if errors:
        raise FormInvalid(errors)


def record_consultation(session, whistles: list[Whistle], data: dict, *, lead: str, cooperating,
                        at: datetime | None = None, actor: str | None = None) -> list[JointConsultation]:
    """R13 共同协商: record the lead's consultation with the cooperating departments present and
    the agreed split of work on every whistle (one, or each of a joint matter's)."""
    at = at or now()
    cooperating = [d for d in normalise_ids(cooperating or []) if d != lead]
    dispatched = min((w.dispatched_at for w in whistles if w.dispatched_at), default=None)
    check_consultation(session, data, lead=lead, cooperating=cooperating, dispatched_at=dispatched, at=at)
    participants = normalise_ids(data.get("participant_ids"))
    names = [(d, unit_name(session, d)) for d in [lead, *cooperating]]
    split_text = str(data["work_split"]).strip()
    split = _split(split_text, names)
    held = _date(data["held_on"])
    absent = [d for d in cooperating if d not in participants]
    rows = []
    for w in whistles:
        row = JointConsultation(whistle_id=w.id, task_order_no=w.task_order_no, lead_department_id=lead,
                                held_on=held, participant_ids=participants, absent_ids=absent, work_split=split,
                                split_text=split_text, minutes=(data.get("minutes") or None), recorded_by=actor, at=at)
        session.add(row)
        rows.append(row)
        text = (f"{unit_name(session, lead)}召集共同协商（{held.isoformat()}），参加："
                + "、".join(unit_name(session, p) for p in participants)
                + (f"；未参加：{'、'.join(unit_name(session, d) for d in absent)}" if absent else "")
                + f"。分工：{split_text}")
        record_event(session, w, "joint_consultation", actor=actor, at=at, text=text)
    session.flush()
    return rows


def consultations_of(session, whistle: Whistle) -> list[dict]:
    """The whistle's joint consultations for its page (newest last)."""
    rows = session.scalars(select(JointConsultation).where(JointConsultation.whistle_id == whistle.id)
                           .order_by(JointConsultation.id))
    return [{"held_on": r.held_on.isoformat(), "lead_department_id": r.lead_department_id,
             "lead_department_name": unit_name(session, r.lead_department_id),
             "participants": [{"department_id": d, "name": unit_name(session, d)} for d in r.participant_ids or []],
             "absent": [{"department_id": d, "name": unit_name(session, d)} for d in r.absent_ids or []],
             "work_split": dict(r.work_split or {}), "split_text": r.split_text, "minutes": r.minutes,
             "recorded_by": r.recorded_by, "at": iso(r.at), "task_order_no": r.task_order_no} for r in rows]


# -- what the lead waits for (R13) --------------------------------------------------------------

def waiting_for(session, instance_id: int | None, *, lead_department_id: str | None = None) -> list[dict]:
    """The other departments' open handling tasks of an instance (reports for duty, cooperation)
    that the lead department waits for before it can report completion."""
    from engine.models import InboxTask
    if instance_id is None:
        return []
    rows = session.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id,
                                                   InboxTask.task.in_(WAITED_TASKS))
                           .order_by(InboxTask.created_at, InboxTask.id))
    out = []
    for t in rows:
        if lead_department_id and t.unit_id == lead_department_id:
            continue
        out.append({"task": t.task, "name": t.name, "unit_id": t.unit_id, "unit_name": unit_name(session, t.unit_id)})
    return out


def waiting_line(items: list[dict]) -> str | None:
    """'等待：A（配合办理）、B（部门报到）' or None when nothing is open."""
    if not items:
        return None
    return "等待：" + "、".join(f"{i['unit_name']}（{i['name']}）" for i in items)


def lead_waiting(session, unit_id: str) -> list[dict]:
    """Open whistles (and joint matters) led by `unit_id` whose completion waits for other
    departments: [{whistle_id, whistle_no, title, joint_no, waiting_for, line}]."""
    from .joint_assessment_models import JointMatter
    out = []
    whistles = session.scalars(select(Whistle).where(Whistle.lead_department_id == unit_id,
                                                     Whistle.closed_at.is_(None), Whistle.joint_id.is_(None),
                                                     Whistle.instance_id.is_not(None)).order_by(Whistle.id))
    for w in whistles:
        items = waiting_for(session, w.instance_id, lead_department_id=unit_id)
        if items:
            out.append({"whistle_id": w.id, "whistle_no": w.whistle_no, "title": w.title, "joint_no": None,
                        "waiting_for": items, "line": waiting_line(items)})
    joints = session.scalars(select(JointMatter).where(JointMatter.lead_department_id == unit_id,
                                                       JointMatter.status == "dispatched").order_by(JointMatter.id))
    for j in joints:
        items = waiting_for(session, j.instance_id, lead_department_id=unit_id)
        if items:
            out.append({"whistle_id": None, "whistle_no": None, "title": j.title, "joint_no": j.joint_no,
                        "waiting_for": items, "line": waiting_line(items)})
    return out


# -- the workspace hook -------------------------------------------------------------------------

def on_task(session, officer, task, whistle: Whistle | None, context: dict, data: dict, *,
            at: datetime | None = None) -> None:
    """Record what a handling task keeps only in its own data: a department's report for duty
    (its own row), the lead's joint consultation (R13, checked first: a bad answer changes nothing)."""
    at = at or now()
    if task.task == "report_for_duty":
        duty = {"department_id": context.get("department_id") or officer.unit_id,
                "community_id": context.get("duty_community_id"),
                "whistle_id": context.get("duty_whistle_id") or (whistle.id if whistle else None)}
        record_report(session, duty=duty, data=data, at=at, actor=officer.username)
    elif task.task == "joint_consultation":
        from engine import runtime
        from engine.models import Instance
        instance = session.get(Instance, task.instance_id)
        values = runtime.task_data(session, instance, task.id)
        if whistle is not None:
            whistles = [whistle]
        else:
            from .joint import get_joint, linked_whistles
            joint = get_joint(session, values.get("joint_pk") or values.get("joint_id"))
            whistles = linked_whistles(session, joint) if joint is not None else []
        record_consultation(session, whistles, data, lead=values.get("lead_department_id"),
                            cooperating=values.get("cooperating_department_ids"), at=at, actor=officer.username)
