"""Satisfaction surveys (R12), per-whistle evaluations of departments (R16), standing
mechanisms (R15)."""
from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from engine.clock import now

from .consultations import normalise_ids
from .directory import require_unit, unit_name
from .duty_reports import report_facts
from .models import (DEPARTMENT_KINDS, GRADES, Evaluation, Extension, StandingMechanism, Survey, TaskOrder,
                     Whistle)
from .register import record_event

GRADE_NAMES = {"excellent": "优秀", "good": "良好", "fair": "一般", "poor": "较差"}


class EvaluationError(ValueError):
    pass


def _count(name: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"{name} must be a whole number, not {value!r}") from None
    if number < 0 or number != float(value):
        raise EvaluationError(f"{name} must be a non-negative whole number, not {value!r}")
    return number


def satisfaction_rate(respondents, satisfied, basically_satisfied, dissatisfied) -> float:
    """R12: (satisfied + basically satisfied) / respondents × 100, one decimal (half up).

    The three counts may not add up to more than the respondents (some may not answer)."""
    n = _count("respondents", respondents)
    s, b, d = (_count(k, v) for k, v in (("satisfied", satisfied),
                                         ("basically_satisfied", basically_satisfied),
                                         ("dissatisfied", dissatisfied)))
    if n == 0:
        raise EvaluationError("a survey needs at least one respondent")
    if s + b + d > n:
        raise EvaluationError("the answers outnumber the respondents")
    rate = (Decimal(s + b) * 100 / Decimal(n)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return float(rate)


def record_survey(session, whistle: Whistle, *, respondents, satisfied, basically_satisfied,
                  dissatisfied, comments: str | None = None, at: datetime | None = None,
                  actor: str | None = None) -> Survey:
    rate = satisfaction_rate(respondents, satisfied, basically_satisfied, dissatisfied)
    at = at or now()
    row = Survey(whistle_id=whistle.id, respondents=int(respondents), satisfied=int(satisfied),
                 basically_satisfied=int(basically_satisfied), dissatisfied=int(dissatisfied),
                 rate=rate, comments=comments, at=at)
    session.add(row)
    whistle.satisfaction_rate = rate
    record_event(session, whistle, "survey", actor=actor, stage="survey", at=at,
                 text=f"满意度测评：{respondents} 人参加，满意率 {rate}%",
                 reply=f"满意度测评已完成，满意率 {rate}%。")
    return row


def _days(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 86400, 1)


def department_facts(session, whistle: Whistle, department_id: str) -> dict:
    """The facts of one department on one whistle, from the latest task order involving it:
    role, order number, days to report and to complete, overdue flags, extensions, satisfaction.
    The report facts are the department's own (R8); completion is the order's (the lead's)."""
    orders = session.scalars(select(TaskOrder).where(TaskOrder.whistle_id == whistle.id)
                             .order_by(TaskOrder.id.desc()))
    order = next((o for o in orders if department_id == o.lead_department_id
                  or department_id in (o.cooperating_department_ids or [])), None)
    if order is None:
        return {"role": None, "task_order_no": None, "days_to_report": None, "days_to_complete": None,
                "report_overdue": False, "complete_overdue": False, "extensions": 0,
                "satisfaction_rate": whistle.satisfaction_rate}
    extensions = session.scalars(select(Extension.id).where(Extension.whistle_id == whistle.id,
                                                            Extension.task_order_no == order.order_no)).all()
    role = "lead" if order.lead_department_id == department_id else "cooperating"
    # R8: the department's own report for duty (never another department's lateness); orders
    # issued before reports were kept per department fall back to the lead's report on the order
    own = report_facts(session, whistle, order, department_id)
    if own is not None:
        days_to_report, report_overdue = own["days_to_report"], own["report_overdue"]
    elif role == "lead":
        days_to_report, report_overdue = _days(order.issued_at, order.reported_at), bool(order.report_overdue)
    else:
        days_to_report, report_overdue = None, False
    return {"role": role, "task_order_no": order.order_no,
            "days_to_report": days_to_report,
            "days_to_complete": _days(order.issued_at, order.completed_at),
            "report_overdue": report_overdue, "complete_overdue": bool(order.complete_overdue),
            "extensions": len(extensions), "satisfaction_rate": whistle.satisfaction_rate}


def record_evaluation(session, whistle: Whistle, *, department_id: str, grade: str, timeliness: str,
                      plan: str, result: str, attitude: str, opinion: str | None = None,
                      at: datetime | None = None, actor: str | None = None) -> Evaluation:
    """R16: store (or replace) the community's evaluation of a department on this whistle,
    with the department's facts frozen at that moment."""
    for name, value in (("grade", grade), ("timeliness", timeliness), ("plan", plan),
                        ("result", result), ("attitude", attitude)):
        if value not in GRADES:
            raise EvaluationError(f"{name} must be one of {GRADES}, not {value!r}")
    require_unit(session, department_id, *DEPARTMENT_KINDS)
    at = at or now()
    row = session.scalar(select(Evaluation).where(Evaluation.whistle_id == whistle.id,
                                                  Evaluation.department_id == department_id))
    if row is None:
        row = Evaluation(whistle_id=whistle.id, department_id=department_id)
        session.add(row)
    row.grade, row.timeliness, row.plan, row.result, row.attitude = grade, timeliness, plan, result, attitude
    row.opinion, row.at = opinion, at
    row.facts = department_facts(session, whistle, department_id)
    record_event(session, whistle, "evaluation", actor=actor, stage="evaluation", at=at,
                 text=f"评价{unit_name(session, department_id)}：{GRADE_NAMES[grade]}")
    return row


def register_mechanism(session, *, title: str, document_no: str | None, text: str | None,
                       lead_department_id: str, cooperating_department_ids=(),
                       source_whistle_ids=(), category: str | None = None,
                       at: datetime | None = None) -> StandingMechanism:
    """R15: register a standing mechanism with its lead and cooperating departments."""
    if not (title or "").strip():
        raise EvaluationError("a standing mechanism needs a document title")
    if not lead_department_id:
        raise EvaluationError("a standing mechanism needs a lead department")
    cooperating = [d for d in normalise_ids(cooperating_department_ids) if d != lead_department_id]
    row = StandingMechanism(title=title.strip(), document_no=document_no or None, text=text,
                            lead_department_id=lead_department_id,
                            cooperating_department_ids=cooperating,
                            source_whistle_ids=[int(i) for i in source_whistle_ids],
                            category=category, created_at=at or now())
    session.add(row)
    session.flush()
    return row


def mechanisms(session, *, lead_department_id: str | None = None) -> list[StandingMechanism]:
    stmt = select(StandingMechanism)
    if lead_department_id:
        stmt = stmt.where(StandingMechanism.lead_department_id == lead_department_id)
    return list(session.scalars(stmt.order_by(StandingMechanism.id.desc())))
