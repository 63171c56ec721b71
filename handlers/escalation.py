"""R8/R10: a missed report or completion deadline is flagged and escalated."""
from __future__ import annotations

from engine.registry import HandlerContext, handler
from governance import joint as joints
from governance.orders import OVERDUE_KINDS, OrderError, flag_overdue

from ._common import now_of, whistle_of


@handler("escalation.overdue")
def overdue(kind: str, ctx: HandlerContext = None) -> dict:
    """kind 'report' → {report_overdue: true}; 'complete' → {complete_overdue: true}. Notifies
    the org department of the level and the community, once per whistle, order and kind. In a
    joint matter (R14) every linked whistle is flagged and its community notified."""
    if kind not in OVERDUE_KINDS:
        raise OrderError(f"kind must be one of {OVERDUE_KINDS}, not {kind!r}")
    whistle = whistle_of(ctx)
    if whistle is not None:
        flag_overdue(ctx.session, whistle, kind, at=now_of(ctx))
        return {f"{kind}_overdue": bool(getattr(whistle, f"{kind}_overdue"))}
    joint = joints.joint_of_data(ctx.session, ctx.data) if ctx is not None and ctx.session is not None else None
    if joint is not None:
        joints.flag_overdue(ctx.session, joint, kind, dict(ctx.data or {}), at=now_of(ctx))
    return {f"{kind}_overdue": True}
