"""Deadline handlers: the next quarterly joint meeting (R3), extensions (R11), and the
working-day deadlines of the steps before dispatch (R19, 短平快)."""
from __future__ import annotations

from engine.registry import HandlerContext, handler
from governance.calendar import iso, parse_datetime
from governance.deadlines import STEP_NAMES, flag_step_overdue, step_due
from governance.meetings import next_joint_meeting
from governance.notices import notify
from governance.orders import OrderError, extend_deadline
from governance.register import record_event

from ._common import actor_of, now_of, whistle_of


@handler("deadline.next_joint_meeting")
def next_meeting(community_id: str | None = None, ctx: HandlerContext = None) -> dict:
    """R3: when the community's next quarterly joint meeting sits → {joint_meeting_at}."""
    community_id = community_id or (ctx.data.get("community_id") if ctx else None)
    at = next_joint_meeting(ctx.session if ctx else None, community_id, now_of(ctx))
    whistle = whistle_of(ctx)
    if whistle is not None:
        day = iso(at)[:10]
        record_event(ctx.session, whistle, "joint_meeting_scheduled", actor=actor_of(ctx),
                     stage="waiting_joint_meeting", at=now_of(ctx),
                     text=f"提交社区党建联席会议研究（{day}）",
                     reply=f"您反映的问题属于重难点问题，将于 {day} 提交社区党建联席会议研究。")
        whistle.stage = "waiting_joint_meeting"
    return {"joint_meeting_at": iso(at)}


@handler("deadline.extend")
def extend(requested_due, extension_reason: str | None = None, ctx: HandlerContext = None) -> dict:
    """R11: move the completion deadline → {complete_due, extension_count}."""
    whistle = whistle_of(ctx)
    if whistle is None:
        new_due = parse_datetime(requested_due)
        current = (ctx.data or {}).get("complete_due") if ctx else None
        if current and new_due <= parse_datetime(current):
            raise OrderError("the new deadline must be later than the current one")
        count = int((ctx.data or {}).get("extension_count") or 0) + 1 if ctx else 1
        return {"complete_due": iso(new_due), "extension_count": count}
    extend_deadline(ctx.session, whistle, requested_due, extension_reason, at=now_of(ctx), actor=actor_of(ctx))
    return {"complete_due": iso(whistle.complete_due), "extension_count": whistle.extension_count}


def _step(step) -> str:
    if step not in STEP_NAMES:
        raise ValueError(f"step must be one of {tuple(STEP_NAMES)}, not {step!r}")
    return step


@handler("deadline.step")
def step_deadline(step: str, ctx: HandlerContext = None) -> dict:
    """R19: the deadline of the pre-dispatch step `step` beginning now → {<step>_due}: the
    policy setting's working days (read now) later, at the end of the working day."""
    due = step_due(ctx.session if ctx else None, _step(step), now_of(ctx))
    return {f"{step}_due": iso(due)}


@handler("deadline.step_overdue")
def step_overdue(step: str, ctx: HandlerContext = None) -> dict:
    """R19: the step `step` is still open at its deadline → {<step>_overdue: true}; the holder
    and the unit above it are notified once (the task stays: a non-interrupting timer). Without
    a register row (a joint matter's dispatch) the org department `org_unit_id` is told."""
    _step(step)
    data = (ctx.data or {}) if ctx else {}
    due = parse_datetime(data[f"{step}_due"]) if data.get(f"{step}_due") else None
    whistle = whistle_of(ctx)
    if whistle is not None:
        flag_step_overdue(ctx.session, whistle, step, due, at=now_of(ctx))
    elif ctx is not None and ctx.session is not None and data.get("org_unit_id"):
        notify(ctx.session, str(data["org_unit_id"]), "step_overdue", at=now_of(ctx),
               text=f"【{STEP_NAMES[step]}逾期】{data.get('title') or data.get('joint_id') or ''}"
                    f"未在 {iso(due)[:16].replace('T', ' ') if due else '规定时限'} 前完成{STEP_NAMES[step]}（短平快）。")
    return {f"{step}_overdue": True}
