"""Helpers shared by the handlers."""
from __future__ import annotations

from datetime import datetime

from engine.clock import now as engine_now
from governance.models import Whistle


def whistle_of(ctx) -> Whistle | None:
    """The register row named by the instance data's `whistle_id`, or None (a diagram run
    without a register row, e.g. a joint matter or a test)."""
    if ctx is None or ctx.session is None:
        return None
    wid = (ctx.data or {}).get("whistle_id")
    try:
        wid = int(wid)
    except (TypeError, ValueError):
        return None
    return ctx.session.get(Whistle, wid)


def now_of(ctx) -> datetime:
    return ctx.now if ctx is not None and ctx.now is not None else engine_now()


def actor_of(ctx) -> str | None:
    return getattr(ctx, "actor", None)
