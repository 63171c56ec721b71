"""R8/R13/R14 handling: who reports for duty where, and which communities must agree to an
extension (R11, every community of a joint matter)."""
from __future__ import annotations

from engine.registry import HandlerContext, handler
from governance import duty_reports
from governance import joint as joints
from governance.consultations import normalise_ids

from ._common import now_of, whistle_of


def _joint(ctx):
    if ctx is None or ctx.session is None:
        return None
    return joints.joint_of_data(ctx.session, ctx.data)


@handler("duty.open")
def open_duties(ctx: HandlerContext = None) -> dict:
    """R8: one report for duty per dispatched department (lead and each cooperating one; the lead
    alone after a rework) at each whistling community (R14) → {duties, duty_visits}; each is
    recorded as its own row tied to the task order."""
    data = dict((ctx.data if ctx else None) or {})
    whistle = whistle_of(ctx)
    joint = _joint(ctx) if whistle is None else None
    items = duty_reports.open_reports(ctx.session if ctx is not None else None, whistle=whistle, joint=joint,
                                      data=data, at=now_of(ctx))
    return {"duties": items, "duty_visits": {}}


@handler("extension.communities")
def extension_communities(ctx: HandlerContext = None) -> dict:
    """R11/R14: the communities that must agree to an extension — the whistle's community, or
    every community of a joint matter — one after the other → {agree_community_id, extension_queue}."""
    data = (ctx.data if ctx else None) or {}
    queue = normalise_ids(data.get("community_ids") or [data.get("community_id")])
    return {"agree_community_id": queue[0] if queue else None, "extension_queue": queue[1:]}


@handler("extension.next_community")
def next_community(ctx: HandlerContext = None) -> dict:
    """The next community that must agree to the extension → {agree_community_id, extension_queue}."""
    queue = normalise_ids(((ctx.data if ctx else None) or {}).get("extension_queue") or [])
    return {"agree_community_id": queue[0] if queue else None, "extension_queue": queue[1:]}
