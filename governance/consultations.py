"""R7: before dispatching, the org department consults each proposed department.

A consultation round opens one request per department with a reply deadline of N working days
at 18:00; a department answers accept / object (+ reason, suggested unit); at closing, any
request without answer is recorded as 'no_reply'.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from engine.clock import now

from .calendar import Adjustments, iso, local_date, working_deadline
from .calendar_days import calendar_adjustments
from .directory import require_unit, unit_name
from .models import DEPARTMENT_KINDS, LEVELS, Consultation, Whistle
from .notices import notify
from .register import record_event

DEFAULT_REPLY_DAYS = 3
LEVEL_NAMES = {"district": "区委组织部", "city": "市委组织部"}


class ConsultationError(ValueError):
    pass


def normalise_ids(value) -> list[str]:
    """A list of unit ids from a list, a single id, a comma/|-separated string or None (deduplicated)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v for part in value.split("|") for v in part.split(",")]
    out = []
    for v in value:
        v = str(v).strip()
        if v and v not in out:
            out.append(v)
    return out


def consultation_due(opened_at: datetime, reply_days: int = DEFAULT_REPLY_DAYS, *, session=None,
                     adjustments: Adjustments | None = None) -> datetime:
    """The reply deadline: `reply_days` working days after opening, at 18:00 Asia/Shanghai.

    The calendar days entered by administrators count: pass them as `adjustments`, or a
    `session` to load them from."""
    if adjustments is None and session is not None:
        adjustments = calendar_adjustments(session, local_date(opened_at))
    return working_deadline(opened_at, int(reply_days), adjustments=adjustments)


def open_consultations(session, whistle: Whistle, department_ids, level: str,
                       reply_days: int = DEFAULT_REPLY_DAYS, *, at: datetime | None = None,
                       actor: str | None = None) -> list[Consultation]:
    """Open a new round: one Consultation and one Notice per department."""
    if level not in LEVELS:
        raise ConsultationError(f"level must be one of {LEVELS}, not {level!r}")
    ids = normalise_ids(department_ids)
    if not ids:
        raise ConsultationError("no department to consult")
    for dept in ids:
        require_unit(session, dept, *DEPARTMENT_KINDS)
    at = at or now()
    due = consultation_due(at, reply_days, session=session)
    round_no = (session.scalar(select(func.max(Consultation.round))
                               .where(Consultation.whistle_id == whistle.id)) or 0) + 1
    rows = []
    for dept in ids:
        row = Consultation(whistle_id=whistle.id, round=round_no, department_id=dept, level=level,
                           opened_at=at, due_at=due)
        session.add(row)
        rows.append(row)
        notify(session, dept, "consultation", whistle_id=whistle.id, at=at,
               text=f"【征求意见】{LEVEL_NAMES[level]}拟派单“{whistle.title}”（{whistle.whistle_no}）"
                    f"至贵单位，请于 {iso(due)[:16].replace('T', ' ')} 前答复。")
    session.flush()
    record_event(session, whistle, "consultation_opened", actor=actor, stage="consultation", at=at,
                 text="征求意见：" + "、".join(unit_name(session, d) for d in ids))
    return rows


def _current_round(session, whistle_id: int) -> list[Consultation]:
    latest = session.scalar(select(func.max(Consultation.round)).where(Consultation.whistle_id == whistle_id))
    if latest is None:
        return []
    return list(session.scalars(select(Consultation).where(Consultation.whistle_id == whistle_id,
                                                           Consultation.round == latest)
                                .order_by(Consultation.id)))


def record_consultation_answer(session, whistle_id: int, department_id: str, answer: str,
                               reason: str | None = None, suggested_unit_id: str | None = None,
                               *, at: datetime | None = None) -> Consultation:
    """Store a department's answer on the open request of the current round."""
    if answer not in ("accept", "object"):
        raise ConsultationError(f"answer must be 'accept' or 'object', not {answer!r}")
    row = next((c for c in _current_round(session, whistle_id) if c.department_id == department_id), None)
    if row is None:
        raise ConsultationError(f"no consultation of {department_id} on whistle {whistle_id}")
    if answer == "object" and not (reason or "").strip() and not suggested_unit_id:
        raise ConsultationError("an objection needs a reason or a suggested unit")
    if row.closed_at is not None:
        # The last reply of a round closes it in the same engine step (consultation.close takes
        # the answer code from the instance data, which carries no reason): complete that row.
        if row.answer != answer or row.answered_at is None:
            raise ConsultationError("the consultation is closed")
        row.reason = row.reason or (reason or None)
        row.suggested_unit_id = row.suggested_unit_id or (suggested_unit_id or None)
        return row
    row.answer, row.reason = answer, (reason or None)
    row.suggested_unit_id = suggested_unit_id or None
    row.answered_at = at or now()
    return row


def answers_from_data(data: dict) -> dict[str, dict]:
    """Answers found in instance data, by department: the multi-instance output
    `consultation_reply_outputs` (list, or dict keyed by department or index) or
    `consultation_replies`. An item is a dict with `answer` (+ `department_id`, `reason`,
    `suggested_unit_id`) or just the answer string; without `department_id` it belongs to the
    department at the same index of `consult_department_ids`."""
    found: dict[str, dict] = {}
    order = normalise_ids(data.get("consult_department_ids"))

    def take(item, key_hint=None):
        if isinstance(item, str):          # an output item holding just the answer
            item = {"answer": item}
        if not isinstance(item, dict):
            return
        dept = item.get("department_id") or key_hint
        if dept and item.get("answer"):
            found[str(dept)] = item

    def by_index(i):
        return order[i] if 0 <= i < len(order) else None

    for key in ("consultation_reply_outputs", "consultation_replies"):
        value = data.get(key)
        if isinstance(value, list):
            for i, item in enumerate(value):
                take(item, by_index(i))
        elif isinstance(value, dict):
            for k, item in value.items():
                take(item, by_index(int(k)) if str(k).isdigit() else k)
    return found


def close_consultations(session, whistle: Whistle | None, data: dict | None = None, *,
                        at: datetime | None = None, department_ids=None) -> list[dict]:
    """Close the current round: take answers from `data` where the row has none, mark the
    silent ones 'no_reply'; return [{department_id, answer, reason, suggested_unit_id}]."""
    at = at or now()
    from_data = answers_from_data(data or {})
    if whistle is None:
        ids = normalise_ids(department_ids) or list(from_data)
        out = []
        for dept in ids:
            a = from_data.get(dept, {})
            answer = a.get("answer") if a.get("answer") in ("accept", "object") else "no_reply"
            out.append({"department_id": dept, "answer": answer,
                        "reason": a.get("reason") if answer != "no_reply" else None,
                        "suggested_unit_id": a.get("suggested_unit_id") if answer != "no_reply" else None})
        return out
    out = []
    for row in _current_round(session, whistle.id):
        a = from_data.get(row.department_id)
        if row.answer is None and a and a.get("answer") in ("accept", "object"):
            row.answer, row.reason = a["answer"], a.get("reason") or None
            row.suggested_unit_id = a.get("suggested_unit_id") or None
            row.answered_at = at
        if row.answer is None:
            row.answer = "no_reply"
        if row.closed_at is None:
            row.closed_at = at
        out.append({"department_id": row.department_id, "answer": row.answer,
                    "reason": row.reason, "suggested_unit_id": row.suggested_unit_id})
    summary = "；".join(f"{unit_name(session, o['department_id'])}：{ANSWER_NAMES[o['answer']]}" for o in out)
    record_event(session, whistle, "consultation_closed", stage="consultation", at=at,
                 text=f"征求意见结束。{summary}")
    return out


ANSWER_NAMES = {"accept": "同意", "object": "有异议", "no_reply": "逾期未答复"}
