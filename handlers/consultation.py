"""R7 handlers: open a consultation round, report a lapsed one to the org department, close it
recording silence as 'no_reply'."""
from __future__ import annotations

from engine.registry import HandlerContext, handler
from governance.calendar import iso
from governance.consultations import (ConsultationError, answers_from_data, close_consultations,
                                      consultation_due, normalise_ids, notify_lapsed, open_consultations)
from governance.directory import unit_name
from governance.models import LEVELS
from governance.notices import notify

from ._common import actor_of, now_of, whistle_of


@handler("consultation.open")
def open_round(department_ids, level: str, reply_days: int | None = None,
               ctx: HandlerContext = None) -> dict:
    """→ {consultation_due, consult_department_ids, consultation_ids}; the deadline is
    `reply_days` working days later (default: the policy setting `consultation_reply_days`,
    read when the round opens) at the end of the working day, Asia/Shanghai."""
    ids = normalise_ids(department_ids)
    if level not in LEVELS:
        raise ConsultationError(f"level must be one of {LEVELS}, not {level!r}")
    if not ids:
        raise ConsultationError("no department to consult")
    days = None if reply_days in (None, "") else int(reply_days)
    at = now_of(ctx)
    whistle = whistle_of(ctx)
    if whistle is None:
        due = consultation_due(at, days, session=ctx.session if ctx else None)
        return {"consultation_due": iso(due),
                "consult_department_ids": ids, "consultation_ids": []}
    whistle.stage = "consultation"
    rows = open_consultations(ctx.session, whistle, ids, level, days, at=at, actor=actor_of(ctx))
    return {"consultation_due": iso(rows[0].due_at), "consult_department_ids": ids,
            "consultation_ids": [r.id for r in rows]}


@handler("consultation.lapsed")
def lapsed(ctx: HandlerContext = None) -> dict:
    """The reply deadline passed with requests unanswered (R7, R19): the org department that
    consulted is told which departments kept silent, once per round → {consultation_lapsed:
    [department ids]}. Without a register row (a joint matter) the org department named by
    `org_unit_id` in the data is told."""
    whistle = whistle_of(ctx)
    if whistle is not None:
        return {"consultation_lapsed": notify_lapsed(ctx.session, whistle, at=now_of(ctx))}
    data = dict(ctx.data or {}) if ctx else {}
    answered = answers_from_data(data)
    silent = [d for d in normalise_ids(data.get("consult_department_ids")) if d not in answered]
    org = data.get("org_unit_id")
    if silent and org and ctx is not None and ctx.session is not None:
        names = "、".join(unit_name(ctx.session, d) for d in silent)
        notify(ctx.session, str(org), "consultation_lapsed", at=now_of(ctx),
               text=f"【征求意见逾期】{names}未在 {(data.get('consultation_due') or '')[:16].replace('T', ' ')} "
                    f"前答复，按未答复处理，请确认派单。")
    return {"consultation_lapsed": silent}


@handler("consultation.close")
def close_round(ctx: HandlerContext = None) -> dict:
    """→ {consultation_answers: [{department_id, answer, reason, suggested_unit_id}]}; answers
    come from the Consultation rows and from the instance data (`consultation_reply_outputs`);
    a request without answer becomes 'no_reply'."""
    data = dict(ctx.data or {}) if ctx else {}
    answers = close_consultations(ctx.session if ctx else None, whistle_of(ctx), data, at=now_of(ctx),
                                  department_ids=data.get("consult_department_ids"))
    return {"consultation_answers": answers}
