"""Task orders (R5, R6, R8, R10, R13), overdue escalation and extensions (R11)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from engine.clock import now

from .calendar import iso, parse_datetime
from .consultations import LEVEL_NAMES, normalise_ids
from .deadlines import order_deadlines
from .directory import org_unit_id, require_unit, unit_name
from .duty_reports import flag_overdue_reports, has_reports
from .models import DEPARTMENT_KINDS, LEVELS, Extension, TaskOrder, Whistle
from .notices import notify
from .numbering import task_order_no
from .register import current_order, record_event, record_stage

OVERDUE_KINDS = ("report", "complete")


class OrderError(ValueError):
    pass


@dataclass
class OrderTerms:
    """What a task order says, computed with or without a register row."""
    order_no: str
    level: str
    lead_department_id: str
    cooperating_department_ids: list[str]
    dispatched_at: datetime
    report_due: datetime
    complete_due: datetime
    target_due: datetime | None = None     # R4: the priority table's earlier target, never a deadline

    @property
    def involved_department_ids(self) -> list[str]:
        return [self.lead_department_id, *self.cooperating_department_ids]


def order_terms(session, *, level: str, lead_department_id: str, cooperating_department_ids,
                completion_period: str, district_id: str | None, at: datetime) -> OrderTerms:
    """Number and deadlines of a new order: report +7 days (R8), completion one quarter later
    (R10), both at the end of a working day; `completion_period` only sets the target (R4)."""
    if level not in LEVELS:
        raise OrderError(f"level must be one of {LEVELS}, not {level!r}")
    if not lead_department_id:
        raise OrderError("a lead department is required (R13)")
    cooperating = [d for d in normalise_ids(cooperating_department_ids) if d != lead_department_id]
    due = order_deadlines(session, at, completion_period)
    return OrderTerms(order_no=task_order_no(session, level, district_id, at), level=level,
                      lead_department_id=lead_department_id, cooperating_department_ids=cooperating,
                      dispatched_at=at, report_due=due.report_due, complete_due=due.complete_due,
                      target_due=due.target_due)


def issue_task_order(session, whistle: Whistle, *, level: str, lead_department_id: str,
                     cooperating_department_ids=(), completion_period: str = "P3M",
                     at: datetime | None = None, actor: str | None = None) -> TaskOrder:
    """Issue a task order for `whistle`, update the register, notify the departments."""
    at = at or now()
    for dept in normalise_ids([lead_department_id, *normalise_ids(cooperating_department_ids)]):
        require_unit(session, dept, *DEPARTMENT_KINDS)
    terms = order_terms(session, level=level, lead_department_id=lead_department_id,
                        cooperating_department_ids=cooperating_department_ids,
                        completion_period=completion_period, district_id=whistle.district_id, at=at)
    order = TaskOrder(order_no=terms.order_no, whistle_id=whistle.id, level=level,
                      lead_department_id=terms.lead_department_id,
                      cooperating_department_ids=terms.cooperating_department_ids,
                      completion_period=completion_period, issued_at=at,
                      report_due=terms.report_due, complete_due=terms.complete_due,
                      target_due=terms.target_due)
    session.add(order)
    whistle.level = level
    whistle.lead_department_id = terms.lead_department_id
    whistle.cooperating_department_ids = terms.cooperating_department_ids
    whistle.task_order_no = terms.order_no
    whistle.dispatched_at, whistle.report_due, whistle.complete_due = at, terms.report_due, terms.complete_due
    whistle.target_due = terms.target_due
    whistle.reported_at = whistle.completed_at = None   # facts of the new order start afresh
    session.flush()
    lead_name = unit_name(session, terms.lead_department_id)
    when = lambda dt: iso(dt)[:10]  # noqa: E731
    notify(session, terms.lead_department_id, "task_order", whistle_id=whistle.id, at=at,
           text=f"【任务单 {terms.order_no}】{LEVEL_NAMES[level]}派单：“{whistle.title}”（{whistle.whistle_no}），"
                f"由贵单位牵头办理。请于 {when(terms.report_due)} 前到"
                f"{unit_name(session, whistle.community_id)}报到，{when(terms.complete_due)} 前办结。")
    for dept in terms.cooperating_department_ids:
        notify(session, dept, "task_order", whistle_id=whistle.id, at=at,
               text=f"【任务单 {terms.order_no}】“{whistle.title}”（{whistle.whistle_no}）由{lead_name}牵头，"
                    f"请贵单位配合办理。")
    coop = "、".join(unit_name(session, d) for d in terms.cooperating_department_ids)
    record_stage(session, whistle, "handling", actor=actor, at=at,
                 text=f"签发任务单 {terms.order_no}：{lead_name}牵头" + (f"，{coop}配合" if coop else ""),
                 reply=f"您反映的问题已派单至{lead_name}办理，将于 {when(terms.complete_due)} 前办结。")
    return order


def flag_overdue(session, whistle: Whistle, kind: str, *, at: datetime | None = None) -> bool:
    """Flag the report (R8) or completion (R10) deadline as missed and notify the org
    department of the order's level and the community. A report deadline of an order whose
    departments report each on their own (governance.duty_reports) flags each department that
    has not reported, and only those. Idempotent: returns False (and notifies
    nobody) when this whistle's current order was already flagged for `kind`, or when the
    register's deadline of that kind has not passed at `at` (a stale timer)."""
    if kind not in OVERDUE_KINDS:
        raise OrderError(f"kind must be one of {OVERDUE_KINDS}, not {kind!r}")
    at = at or now()
    if kind == "report" and has_reports(session, whistle):
        # R8: every department of the order is flagged on its own report only
        return flag_overdue_reports(session, whistle, at=at)
    attr = f"{kind}_overdue"
    due = whistle.report_due if kind == "report" else whistle.complete_due
    if due is not None and at < due:
        return False   # a timer armed for a deadline that has since moved (an extension, R11)
    order = current_order(session, whistle)
    already = getattr(order, attr) if order is not None else getattr(whistle, attr)
    setattr(whistle, attr, True)
    if already:
        return False
    if order is not None:
        setattr(order, attr, True)
    level = whistle.level or "district"
    lead = unit_name(session, whistle.lead_department_id) if whistle.lead_department_id else "责任部门"
    what = "到社区报到" if kind == "report" else "办结"
    text = (f"【逾期】“{whistle.title}”（{whistle.whistle_no}）：{lead}未在 "
            f"{iso(due)[:10] if due else '期限'} 前{what}。")
    for unit_id in dict.fromkeys([org_unit_id(level, whistle.district_id), whistle.community_id]):
        notify(session, unit_id, f"{kind}_overdue", text=text, whistle_id=whistle.id, at=at)
    record_event(session, whistle, f"{kind}_overdue", at=at, text=text)
    return True


def extension_count(session, whistle: Whistle) -> int:
    return session.scalar(select(func.count(Extension.id)).where(Extension.whistle_id == whistle.id)) or 0


def extend_deadline(session, whistle: Whistle, requested_due, reason: str | None = None, *,
                    at: datetime | None = None, actor: str | None = None) -> Extension:
    """R11: move the completion deadline after the community agreed and the same-level org
    department approved. A date without time means 18:00 that day."""
    at = at or now()
    new_due = parse_datetime(requested_due)
    old_due = whistle.complete_due
    if new_due <= (old_due or at):
        raise OrderError("the new deadline must be later than the current one")
    row = Extension(whistle_id=whistle.id, task_order_no=whistle.task_order_no,
                    requested_due=new_due, reason=reason, old_due=old_due, new_due=new_due,
                    agreed_by_community=True, approved=True, decided_at=at)
    session.add(row)
    whistle.complete_due = new_due
    order = current_order(session, whistle)
    if order is not None:
        order.complete_due = new_due
    session.flush()
    whistle.extension_count = extension_count(session, whistle)
    text = f"办理期限由 {iso(old_due)[:10] if old_due else '—'} 延长至 {iso(new_due)[:10]}"
    notify(session, whistle.community_id, "extension", whistle_id=whistle.id, at=at,
           text=f"【延期】“{whistle.title}”（{whistle.whistle_no}）{text}。")
    if whistle.lead_department_id:
        notify(session, whistle.lead_department_id, "extension", whistle_id=whistle.id, at=at,
               text=f"【延期获批】“{whistle.title}”（{whistle.whistle_no}）{text}。")
    record_event(session, whistle, "extension", actor=actor, stage="extension", at=at,
                 text=text + (f"。理由：{reason}" if reason else ""),
                 reply=f"因事项难度较大，经社区同意、组织部批准，{text}。")
    return row
