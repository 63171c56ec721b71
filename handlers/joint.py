"""R14 handlers of process `joint_matter`: stages of the linked whistles, the task orders of
the joint dispatch, and closing (every linked whistle gets message `joint_matter_closed`)."""
from __future__ import annotations

import re

from engine.registry import HandlerContext, handler
from governance import joint as joints
from governance.calendar import iso
from governance.consultations import normalise_ids
from governance.models import LEVELS

from ._common import actor_of, now_of

_STAGE = re.compile(r"^[a-z][a-z_]{0,39}$")


def _joint(ctx: HandlerContext):
    joint = joints.joint_of_data(ctx.session, ctx.data) if ctx is not None and ctx.session is not None else None
    if joint is None:
        raise joints.JointError("instance data names no joint matter (joint_pk / joint_id)")
    return joint


@handler("joint.stage")
def stage(stage: str, reply: str | None = None, ctx: HandlerContext = None) -> dict:
    """Move every linked whistle to register stage `stage` (with `reply` or the stage's
    standard reply to residents, R19) → {}."""
    if not isinstance(stage, str) or not _STAGE.match(stage):
        raise ValueError(f"invalid stage code {stage!r}")
    joints.set_stage(ctx.session, _joint(ctx), stage, actor=actor_of(ctx), at=now_of(ctx), reply=reply or None)
    return {}


@handler("joint.record_order")
def record_order(task_order_no: str, level: str, lead_department_id: str, cooperating_department_ids=None,
                 dispatched_at: str | None = None, report_due: str | None = None,
                 complete_due: str | None = None, completion_period: str | None = None,
                 involved_department_ids=None, ctx: HandlerContext = None) -> dict:
    """Give every linked whistle its own task order of the joint dispatch ('<no>-<n>') →
    {involved_department_ids (all departments dispatched so far, lead first), orders}."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    orders = joints.record_order(ctx.session, _joint(ctx), task_order_no=task_order_no, level=level,
                                 lead_department_id=lead_department_id,
                                 cooperating_department_ids=cooperating_department_ids or [],
                                 dispatched_at=dispatched_at, report_due=report_due, complete_due=complete_due,
                                 completion_period=completion_period, actor=actor_of(ctx), at=now_of(ctx))
    involved = normalise_ids([*(involved_department_ids or []), lead_department_id,
                              *(cooperating_department_ids or [])])
    return {"involved_department_ids": involved, "orders": [o.order_no for o in orders]}


@handler("joint.close")
def close(ctx: HandlerContext = None) -> dict:
    """Copy the handling facts to every linked whistle and send each of them message
    `joint_matter_closed` (payload: joint_id, involved_department_ids, task_order_no, outcome,
    result, reply; correlation key `joint_matter` = {joint_id}) → {joint_closed_at, delivered}."""
    joint = _joint(ctx)
    result = joints.close(ctx.session, joint, dict(ctx.data or {}), actor=actor_of(ctx), at=now_of(ctx))
    return {"joint_closed_at": iso(joint.closed_at), "delivered": result["delivered"]}
