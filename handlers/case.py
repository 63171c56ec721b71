"""The register side of a whistle: set data, move the stage (with a reply, R19), close."""
from __future__ import annotations

import re

from engine.registry import HandlerContext, handler
from governance.calendar import iso
from governance.consultations import normalise_ids
from governance.deadlines import order_deadlines
from governance.models import LEVELS
from governance.register import OUTCOMES, STAGE_REPLIES, record_event, record_stage

from ._common import actor_of, now_of, whistle_of

_STAGE = re.compile(r"^[a-z][a-z_]{0,39}$")
# data keys that are also register columns, copied when `case.set` sets them
_REGISTER_FIELDS = ("level", "priority", "category", "joint_id")


@handler("case.set")
def set_data(ctx: HandlerContext = None, **values) -> dict:
    """Merge the given parameters into the instance data (e.g. level='city'); `level`,
    `priority`, `category` and `joint_id` are copied to the register too."""
    if "level" in values and values["level"] not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {values['level']!r}")
    whistle = whistle_of(ctx)
    if whistle is not None:
        for key in _REGISTER_FIELDS:
            if key in values:
                setattr(whistle, key, None if values[key] is None else str(values[key]))
    return dict(values)


@handler("case.involve")
def involve(department_ids=None, ctx: HandlerContext = None) -> dict:
    """R16: add departments to `involved_department_ids` (the departments the community
    evaluates), each once, keeping the ones already there → {involved_department_ids}."""
    already = normalise_ids((ctx.data or {}).get("involved_department_ids") if ctx else None)
    return {"involved_department_ids": normalise_ids([*already, *normalise_ids(department_ids)])}


@handler("case.update")
def update(stage: str, reply: str | None = None, text: str | None = None, set_priority: str | None = None,
           set_category: str | None = None, ctx: HandlerContext = None) -> dict:
    """Move the register to `stage`, logging it with `reply` (or the stage's standard reply)
    and `text`. A whistle already in `stage` is left alone unless a reply or text is given
    (e.g. issuing a task order has already moved it to 'handling' with its own reply).
    `set_priority` and `set_category` (the street's grading, R4) are copied to the register's
    priority and category when given (a parameter id is an XML id: it cannot be 'priority',
    the id of the decision task)."""
    if not isinstance(stage, str) or not _STAGE.match(stage):
        raise ValueError(f"invalid stage code {stage!r}")
    whistle = whistle_of(ctx)
    if whistle is not None:
        if set_priority:
            whistle.priority = str(set_priority)
        if set_category:
            whistle.category = str(set_category)
    if whistle is not None and (whistle.stage != stage or reply or text):
        record_stage(ctx.session, whistle, stage, actor=actor_of(ctx), reply=reply or None,
                     text=text or None, at=now_of(ctx))
    return {}


# the lead department's closing outcomes of complete_matter (handling.bpmn) that close a whistle
_HANDLING_OUTCOMES = ("completed", "cannot_solve", "long_term")


def closing_outcome(data: dict) -> str | None:
    """R20: how the whistle is being closed (a code of governance.register.OUTCOMES), read from the
    decision that led to the close: a joint matter's outcome, the lead department's `outcome`
    (completed / cannot_solve at city level / long_term), the street's coordination
    (`outcome` resolved), the joint meeting closing it (`decision` close), or the community
    resolving it locally (`route` or the meeting's `decision` local). None when none applies.
    Each of these values only ever leads to a close, so an older value cannot be mistaken for
    the deciding one."""
    joint = data.get("joint_result")
    if isinstance(joint, dict) and joint.get("outcome") in _HANDLING_OUTCOMES:
        return joint["outcome"]
    if data.get("outcome") in _HANDLING_OUTCOMES:
        return data["outcome"]
    if data.get("outcome") == "resolved":
        return "resolved_by_street"
    if data.get("decision") == "close":
        return "closed_at_meeting"
    if data.get("decision") == "local" or data.get("route") == "local":
        return "resolved_locally"
    return None


@handler("case.close")
def close(reply: str | None = None, outcome: str | None = None, ctx: HandlerContext = None) -> dict:
    """Close the whistle in the register with its outcome (R20: the given `outcome`, else the one
    `closing_outcome` reads from the data) → {closed_at}."""
    at = now_of(ctx)
    outcome = outcome or closing_outcome((ctx.data if ctx else None) or {})
    whistle = whistle_of(ctx)
    if whistle is not None:
        text = f"办结归档（{OUTCOMES[outcome]}）" if outcome in OUTCOMES else None
        record_stage(ctx.session, whistle, "closed", actor=actor_of(ctx), reply=reply or None, at=at,
                     outcome=outcome, text=text)
        at = whistle.closed_at
    return {"closed_at": iso(at)}


@handler("case.rework")
def rework(reply: str | None = None, ctx: HandlerContext = None) -> dict:
    """R12/R16: the satisfaction survey failed the threshold (`rework_threshold`), so the whistle
    goes back to the lead department's handling → {rework_count, report_due}.

    The rework is counted in the data (`rework_count`) and in the register as a WhistleEvent of
    kind 'rework' (stage 'rework') with a reply to residents (R19: the given `reply` or the
    stage's standard one). The completion deadline (`complete_due`, within the quarter) stays;
    the department gets a fresh R8 window to report again (a week from the rework, at the end of
    a working day; never past `complete_due`), so the old report deadline does not flag the
    rework as overdue at once."""
    data = (ctx.data if ctx else None) or {}
    count = int(data.get("rework_count") or 0) + 1
    at = now_of(ctx)
    out = {"rework_count": count}
    whistle = whistle_of(ctx)
    if whistle is None:
        return out
    report_due = order_deadlines(ctx.session, at).report_due     # R8: a week, end of a working day
    if whistle.complete_due is not None and at < whistle.complete_due < report_due:
        report_due = whistle.complete_due
    whistle.report_due = report_due
    whistle.stage = "rework"
    rate, threshold = data.get("satisfaction_rate"), data.get("rework_threshold")
    text = f"第 {count} 次返工：满意度测评满意率 {rate}%"
    if threshold is not None:
        text += f"，低于 {threshold}%"
    record_event(ctx.session, whistle, "rework", actor=actor_of(ctx), stage="rework", at=at,
                 text=text + "，退回牵头部门重新办理。", reply=reply or STAGE_REPLIES["rework"])
    out["report_due"] = iso(report_due)
    return out
