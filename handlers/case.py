"""The register side of a whistle: set data, move the stage (with a reply, R19), close."""
from __future__ import annotations

import re

from engine.registry import HandlerContext, handler
from governance.calendar import iso
from governance.consultations import normalise_ids
from governance.models import LEVELS
from governance.register import record_stage

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


@handler("case.close")
def close(reply: str | None = None, ctx: HandlerContext = None) -> dict:
    """Close the whistle in the register → {closed_at}."""
    at = now_of(ctx)
    whistle = whistle_of(ctx)
    if whistle is not None:
        record_stage(ctx.session, whistle, "closed", actor=actor_of(ctx), reply=reply or None, at=at)
        at = whistle.closed_at
    return {"closed_at": iso(at)}
