"""The whistle register: intake (R1), stages and replies to residents (R19), reading a record.

Reporting a whistle creates its register row (with a race-free number) and starts the engine
instance of process 'whistle' in the caller's transaction; the caller commits both or neither.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.clock import now

from .calendar import iso
from .directory import CITY_ID, locate_community, unit_name
from .models import (SOURCES, Consultation, Evaluation, Extension, Survey, TaskOrder, Whistle,
                     WhistleEvent)
from .numbering import whistle_no as next_whistle_no

PROCESS_ID = "whistle"

STAGES: dict[str, str] = {
    "triage": "社区研判",
    "local": "社区就地解决",
    "street": "街道协调",
    "waiting_joint_meeting": "待联席会议研究",
    "joint_meeting": "社区党建联席会议",
    "street_review": "街道审核",
    "joint": "并入共性问题统筹",
    "dispatch": "派单",
    "consultation": "征求部门意见",
    "district_meeting": "区委相关会议研究",
    "handling": "部门办理",
    "reported": "部门已报到",
    "extension": "延期办理",
    "long_term": "形成长效机制",
    "survey": "满意度测评",
    "evaluation": "一哨一考核",
    "rework": "重新办理",
    "closed": "已办结",
}

# what residents are told when a whistle enters a stage and no officer wrote a reply (R19)
STAGE_REPLIES: dict[str, str] = {
    "triage": "您反映的问题已受理，社区正在研判。",
    "local": "您反映的问题由社区就地解决。",
    "street": "您反映的问题已上报街道协调解决。",
    "waiting_joint_meeting": "您反映的问题属于重难点问题，将提交本季度社区党建联席会议研究。",
    "joint_meeting": "您反映的问题正在社区党建联席会议研究。",
    "street_review": "您反映的问题已上报街道审核。",
    "joint": "您反映的问题与其他社区反映的问题一并统筹解决。",
    "dispatch": "您反映的问题已启动“社区吹哨、部门报到”程序，正在派单。",
    "consultation": "您反映的问题正在征求相关部门意见。",
    "district_meeting": "您反映的问题已提交区委相关会议研究，拟上报市委组织部派单。",
    "handling": "您反映的问题已派单至责任部门办理。",
    "reported": "责任部门已到社区报到，正在办理。",
    "extension": "因事项难度较大，经社区同意、组织部批准，办理期限已延长。",
    "long_term": "您反映的问题需长期坚持解决，已形成长效机制。",
    "survey": "事项已办理完成，社区正在组织满意度测评。",
    "evaluation": "社区正在对报到部门进行评价。",
    "rework": "根据测评意见，事项重新办理。",
    "closed": "您反映的问题已办结，感谢您的参与。",
}

# R20: how a whistle was closed (Whistle.outcome). Only the first three count as solved; the
# others are counted apart (a closure without a recorded outcome counts as closed, not solved).
OUTCOMES: dict[str, str] = {
    "resolved_locally": "社区就地解决",
    "resolved_by_street": "街道协调解决",
    "completed": "部门办结",
    "cannot_solve": "无法解决",
    "closed_at_meeting": "联席会议研究后办结",
    "long_term": "形成长效机制",
}
SOLVED_OUTCOMES = ("resolved_locally", "resolved_by_street", "completed")


class RegisterError(ValueError):
    """A whistle cannot be reported or found as asked."""


def _start_instance(session, data: dict, *, actor: str | None, business_key: str, now: datetime):
    """Start the engine instance of process 'whistle' (engine.runtime.start) in this transaction,
    at the same instant as the register row."""
    from engine import runtime  # imported late: the engine's runtime is optional at import time
    return runtime.start(session, PROCESS_ID, data, actor=actor, business_key=business_key, now=now)


def report_whistle(session, *, title: str, description: str | None, category: str | None,
                   community_id: str, location: str | None, reporter: str | None, source: str,
                   attachments=(), actor: str | None) -> Whistle:
    """R1: register a whistle addressed to a community and start its 'whistle' instance.

    Street and district are derived from the directory. Nothing is committed here.
    """
    title = (title or "").strip()
    if not title:
        raise RegisterError("标题不能为空")
    if len(title) > 300:
        raise RegisterError("标题过长（最多 300 个字符）")
    if source not in SOURCES:
        raise RegisterError(f"来源“{source}”无效（应为 {'/'.join(SOURCES)}）")
    try:
        place = locate_community(session, community_id)
    except ValueError as exc:
        raise RegisterError(str(exc)) from exc
    at = now()
    whistle = Whistle(
        whistle_no=next_whistle_no(session, place["district_id"], at),
        title=title, description=description, category=category or None,
        community_id=place["community_id"], street_id=place["street_id"],
        district_id=place["district_id"], location=location, reporter=reporter, source=source,
        attachments=list(attachments or []), stage="triage", created_at=at,
        report_overdue=False, complete_overdue=False, extension_count=0,
        cooperating_department_ids=[])
    session.add(whistle)
    session.flush()
    record_event(session, whistle, "reported", actor=actor, stage="triage",
                 text=f"{unit_name(session, whistle.community_id)}收到吹哨事项：{title}",
                 reply=f"您反映的问题已受理，编号 {whistle.whistle_no}，社区正在研判。", at=at)
    data = {"whistle_id": whistle.id, "whistle_no": whistle.whistle_no, "title": title,
            "description": description, "category": category, "location": location,
            "reporter": reporter, "source": source, "city_id": place.get("city_id") or CITY_ID,
            "community_id": place["community_id"], "street_id": place["street_id"],
            "district_id": place["district_id"]}
    instance = _start_instance(session, data, actor=actor, business_key=whistle.whistle_no, now=at)
    whistle.instance_id = instance.id
    session.flush()
    return whistle


def record_event(session, whistle: Whistle, kind: str, *, actor: str | None = None,
                 stage: str | None = None, text: str | None = None, reply: str | None = None,
                 at: datetime | None = None) -> WhistleEvent:
    """Append an event to the whistle's timeline; `reply` is shown to residents (R19)."""
    event = WhistleEvent(whistle_id=whistle.id, kind=kind, actor=actor, stage=stage or whistle.stage,
                         text=text, reply=reply, at=at or now())
    session.add(event)
    return event


def record_stage(session, whistle: Whistle, stage: str, *, actor: str | None = None,
                 text: str | None = None, reply: str | None = None,
                 at: datetime | None = None, outcome: str | None = None) -> WhistleEvent:
    """Move the whistle to `stage` and log it with a reply to residents (R19): the given
    `reply`, else the stage's standard reply. Entering 'reported' stamps `reported_at`,
    'survey' stamps `completed_at`, 'closed' stamps `closed_at` (first time only) and the
    closing `outcome` (one of OUTCOMES, R20) when given."""
    at = at or now()
    if outcome is not None and outcome not in OUTCOMES:
        raise RegisterError(f"办结方式“{outcome}”无效（应为 {'/'.join(OUTCOMES)}）")
    if stage == "closed" and outcome is not None:
        whistle.outcome = outcome
    whistle.stage = stage
    if stage == "reported":
        mark_reported(session, whistle, at)
    elif stage == "survey":
        mark_completed(session, whistle, at)
    elif stage == "closed" and whistle.closed_at is None:
        whistle.closed_at = at
    return record_event(session, whistle, "stage", actor=actor, stage=stage,
                        text=text or f"进入“{STAGES.get(stage, stage)}”阶段",
                        reply=reply or STAGE_REPLIES.get(stage), at=at)


def record_reply(session, whistle: Whistle, reply: str, *, actor: str | None = None,
                 stage: str | None = None, at: datetime | None = None) -> WhistleEvent:
    """R19: record a reply to the residents at the current (or given) stage."""
    if not (reply or "").strip():
        raise RegisterError("答复内容不能为空")
    return record_event(session, whistle, "reply", actor=actor, stage=stage, reply=reply.strip(), at=at)


def current_order(session, whistle: Whistle) -> TaskOrder | None:
    if not whistle.task_order_no:
        return None
    return session.scalar(select(TaskOrder).where(TaskOrder.order_no == whistle.task_order_no))


def mark_reported(session, whistle: Whistle, at: datetime | None = None) -> None:
    """R8: the lead department reported at the community (first time for the current order)."""
    at = at or now()
    if whistle.reported_at is None:
        whistle.reported_at = at
    order = current_order(session, whistle)
    if order is not None and order.reported_at is None:
        order.reported_at = at


def mark_completed(session, whistle: Whistle, at: datetime | None = None) -> None:
    """R10: the matter was completed (first time for the current order)."""
    at = at or now()
    if whistle.completed_at is None:
        whistle.completed_at = at
    order = current_order(session, whistle)
    if order is not None and order.completed_at is None:
        order.completed_at = at


MAX_ROW_ID = 2**31 - 1          # the largest id an integer column holds (PostgreSQL int4)


def row_id(key) -> int | None:
    """`key` as a row id: an int, or a string of ASCII digits, within the column's range; else None
    (so '¹', '٣' or a 30-digit number never reach int() or the database as an id)."""
    if isinstance(key, bool):
        return None
    if isinstance(key, str) and key.isascii() and key.isdigit():
        key = int(key)
    return key if isinstance(key, int) and 0 < key <= MAX_ROW_ID else None


def get_whistle(session, key) -> Whistle | None:
    """A whistle by id (int or digit string) or by whistle number."""
    if key is None:
        return None
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        ident = row_id(key)
        return session.get(Whistle, ident) if ident is not None else None
    return session.scalar(select(Whistle).where(Whistle.whistle_no == key))


def list_whistles(session, *, community_id=None, street_id=None, district_id=None, stage=None,
                  lead_department_id=None, limit: int = 100, offset: int = 0) -> list[Whistle]:
    stmt = select(Whistle)
    for column, value in ((Whistle.community_id, community_id), (Whistle.street_id, street_id),
                          (Whistle.district_id, district_id), (Whistle.stage, stage),
                          (Whistle.lead_department_id, lead_department_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return list(session.scalars(stmt.order_by(Whistle.id.desc()).limit(limit).offset(offset)))


def _timeline(session, whistle: Whistle, *, public: bool) -> list[dict]:
    out = []
    events = session.scalars(select(WhistleEvent).where(WhistleEvent.whistle_id == whistle.id)
                             .order_by(WhistleEvent.id))
    for e in events:
        if public and not e.reply:
            continue
        item = {"at": iso(e.at), "stage": e.stage, "stage_name": STAGES.get(e.stage, e.stage),
                "reply": e.reply}
        if not public:
            item.update(id=e.id, kind=e.kind, actor=e.actor, text=e.text)
        out.append(item)
    return out


def public_timeline(session, whistle: Whistle) -> list[dict]:
    """R19: what residents see: every reply with its time and stage, no officer names."""
    session.flush()
    return _timeline(session, whistle, public=True)


def whistle_record(session, key) -> dict | None:
    """The full record of a whistle as JSON-able dict: register fields, unit names, timeline,
    consultations, task orders, extensions, surveys and evaluations."""
    w = get_whistle(session, key)
    if w is None:
        return None

    def rows(model, *order):
        return list(session.scalars(select(model).where(model.whistle_id == w.id).order_by(*order)))

    return {
        "id": w.id, "whistle_no": w.whistle_no, "title": w.title, "description": w.description,
        "category": w.category, "location": w.location, "reporter": w.reporter, "source": w.source,
        "attachments": w.attachments or [], "instance_id": w.instance_id,
        "community_id": w.community_id, "community_name": unit_name(session, w.community_id),
        "street_id": w.street_id, "street_name": unit_name(session, w.street_id),
        "district_id": w.district_id, "district_name": unit_name(session, w.district_id),
        "stage": w.stage, "stage_name": STAGES.get(w.stage, w.stage), "priority": w.priority,
        "level": w.level, "lead_department_id": w.lead_department_id,
        "lead_department_name": unit_name(session, w.lead_department_id) if w.lead_department_id else None,
        "cooperating_department_ids": w.cooperating_department_ids or [],
        "task_order_no": w.task_order_no, "dispatched_at": iso(w.dispatched_at),
        "report_due": iso(w.report_due), "complete_due": iso(w.complete_due),
        "target_due": iso(w.target_due),
        "reported_at": iso(w.reported_at), "completed_at": iso(w.completed_at),
        "report_overdue": w.report_overdue, "complete_overdue": w.complete_overdue,
        "extension_count": w.extension_count, "satisfaction_rate": w.satisfaction_rate,
        "created_at": iso(w.created_at), "closed_at": iso(w.closed_at), "joint_id": w.joint_id,
        "outcome": w.outcome, "outcome_name": OUTCOMES.get(w.outcome) if w.outcome else None,
        "timeline": _timeline(session, w, public=False),
        "consultations": [{"id": c.id, "round": c.round, "department_id": c.department_id,
                           "department_name": unit_name(session, c.department_id), "level": c.level,
                           "opened_at": iso(c.opened_at), "due_at": iso(c.due_at), "answer": c.answer,
                           "reason": c.reason, "suggested_unit_id": c.suggested_unit_id,
                           "answered_at": iso(c.answered_at)}
                          for c in rows(Consultation, Consultation.id)],
        "task_orders": [{"order_no": o.order_no, "level": o.level,
                         "lead_department_id": o.lead_department_id,
                         "cooperating_department_ids": o.cooperating_department_ids or [],
                         "issued_at": iso(o.issued_at), "report_due": iso(o.report_due),
                         "complete_due": iso(o.complete_due), "target_due": iso(o.target_due),
                         "reported_at": iso(o.reported_at),
                         "completed_at": iso(o.completed_at), "report_overdue": o.report_overdue,
                         "complete_overdue": o.complete_overdue}
                        for o in rows(TaskOrder, TaskOrder.id)],
        "extensions": [{"old_due": iso(x.old_due), "new_due": iso(x.new_due), "reason": x.reason,
                        "decided_at": iso(x.decided_at), "task_order_no": x.task_order_no}
                       for x in rows(Extension, Extension.id)],
        "surveys": [{"respondents": s.respondents, "satisfied": s.satisfied,
                     "basically_satisfied": s.basically_satisfied, "dissatisfied": s.dissatisfied,
                     "rate": s.rate, "comments": s.comments, "at": iso(s.at)}
                    for s in rows(Survey, Survey.id)],
        "evaluations": [{"department_id": v.department_id,
                         "department_name": unit_name(session, v.department_id), "grade": v.grade,
                         "timeliness": v.timeliness, "plan": v.plan, "result": v.result,
                         "attitude": v.attitude, "opinion": v.opinion, "facts": v.facts, "at": iso(v.at)}
                        for v in rows(Evaluation, Evaluation.id)],
    }
