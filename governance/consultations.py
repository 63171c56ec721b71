"""R7: before dispatching, the org department consults each proposed department.

A consultation round opens one request per department with a reply deadline of N working days
(the policy setting `consultation_reply_days`, 3 by default) at the end of the working day; a
department answers accept / object (+ reason, suggested unit); at closing, any request without
answer is recorded as 'no_reply'. A round that lapses with requests unanswered is reported to
the org department that consulted (`notify_lapsed`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from engine.clock import now

from . import policy_settings
from .calendar import Adjustments, iso, local_date, working_deadline
from .calendar_days import calendar_adjustments
from .directory import org_unit_id, require_unit, unit_name
from .models import DEPARTMENT_KINDS, LEVELS, Consultation, Whistle, WhistleEvent
from .notices import notify
from .register import record_event

DEFAULT_REPLY_DAYS = policy_settings.DEFAULTS["consultation_reply_days"]
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


def reply_days_setting(session) -> int:
    """The current reply window in working days (policy setting `consultation_reply_days`)."""
    return int(policy_settings.value(session, "consultation_reply_days"))


def consultation_due(opened_at: datetime, reply_days: int | None = None, *, session=None,
                     adjustments: Adjustments | None = None) -> datetime:
    """The reply deadline: `reply_days` (default: the current setting) working days after
    opening, at the end of the working day (setting `end_of_day`, 17:30) Asia/Shanghai.

    The calendar days entered by administrators count: pass them as `adjustments`, or a
    `session` to load them from."""
    if adjustments is None and session is not None:
        adjustments = calendar_adjustments(session, local_date(opened_at))
    days = reply_days_setting(session) if reply_days is None else int(reply_days)
    return working_deadline(opened_at, days, policy_settings.end_of_day(session), adjustments=adjustments)


def open_consultations(session, whistle: Whistle, department_ids, level: str,
                       reply_days: int | None = None, *, at: datetime | None = None,
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


def notify_lapsed(session, whistle: Whistle, *, at: datetime | None = None) -> list[str]:
    """The reply deadline of the current round passed: tell the org department that consulted
    (of the round's level) which departments did not answer, once per round. Returns the
    silent departments (empty when every one answered or the round was already reported)."""
    at = at or now()
    rows = _current_round(session, whistle.id)
    silent = [r.department_id for r in rows if r.answer is None]
    if not rows or not silent:
        return []
    round_no, level = rows[0].round, rows[0].level
    marker = f"第 {round_no} 轮征求意见答复期限届满"
    already = session.scalar(select(func.count(WhistleEvent.id)).where(
        WhistleEvent.whistle_id == whistle.id, WhistleEvent.kind == "consultation_lapsed",
        WhistleEvent.text.startswith(marker)))
    if already:
        return []
    names = "、".join(unit_name(session, d) for d in silent)
    text = (f"{marker}：{names}未在 {iso(rows[0].due_at)[:16].replace('T', ' ')} 前答复"
            f"（“{whistle.title}”，{whistle.whistle_no}），按未答复处理，请确认派单。")
    notify(session, org_unit_id(level, whistle.district_id), "consultation_lapsed", whistle_id=whistle.id,
           at=at, text=f"【征求意见逾期】{text}")
    record_event(session, whistle, "consultation_lapsed", stage="consultation", at=at, text=text)
    return silent
