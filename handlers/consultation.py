"""R7 handlers: open a consultation round, close it recording silence as 'no_reply'."""
from __future__ import annotations

from engine.registry import HandlerContext, handler
from governance.calendar import iso
from governance.consultations import (DEFAULT_REPLY_DAYS, ConsultationError, close_consultations,
                                      consultation_due, normalise_ids, open_consultations)
from governance.models import LEVELS

from ._common import actor_of, now_of, whistle_of


@handler("consultation.open")
def open_round(department_ids, level: str, reply_days: int = DEFAULT_REPLY_DAYS,
               ctx: HandlerContext = None) -> dict:
    """→ {consultation_due, consult_department_ids, consultation_ids}; the deadline is
    `reply_days` working days later at 18:00 Asia/Shanghai."""
    ids = normalise_ids(department_ids)
    if level not in LEVELS:
        raise ConsultationError(f"level must be one of {LEVELS}, not {level!r}")
    if not ids:
        raise ConsultationError("no department to consult")
    at = now_of(ctx)
    whistle = whistle_of(ctx)
    if whistle is None:
        due = consultation_due(at, int(reply_days), session=ctx.session if ctx else None)
        return {"consultation_due": iso(due),
                "consult_department_ids": ids, "consultation_ids": []}
    whistle.stage = "consultation"
    rows = open_consultations(ctx.session, whistle, ids, level, int(reply_days), at=at, actor=actor_of(ctx))
    return {"consultation_due": iso(rows[0].due_at), "consult_department_ids": ids,
            "consultation_ids": [r.id for r in rows]}


@handler("consultation.close")
def close_round(ctx: HandlerContext = None) -> dict:
    """→ {consultation_answers: [{department_id, answer, reason, suggested_unit_id}]}; answers
    come from the Consultation rows and from the instance data (`consultation_reply_outputs`);
    a request without answer becomes 'no_reply'."""
    data = dict(ctx.data or {}) if ctx else {}
    answers = close_consultations(ctx.session if ctx else None, whistle_of(ctx), data, at=now_of(ctx),
                                  department_ids=data.get("consult_department_ids"))
    return {"consultation_answers": answers}
