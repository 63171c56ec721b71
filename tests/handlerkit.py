"""Support for calling handlers directly (no engine step): their context, and a register row
without an engine instance over the demo directory."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from engine.clock import frozen_at
from engine.registry import HandlerContext
from governance import register
from governance.demo import load_demo
from governance.models import Whistle


def handler_ctx(session, data: dict, *, now: datetime, actor: str) -> HandlerContext:
    """What the engine hands a handler: the session, the instance data (a copy), the clock, who acts."""
    return HandlerContext(session=session, instance_id=1, process_id="whistle", task_id="t",
                          now=now, data=dict(data), actor=actor)


def registered_whistle(session, monkeypatch, *, at: datetime | None, **fields) -> Whistle:
    """A whistle reported at `at` (None: the current clock) with `fields` (title, description,
    category, community_id, location, reporter, source, actor), the demo directory loaded and no
    engine instance started."""
    monkeypatch.setattr(register, "_start_instance", lambda *a, **k: SimpleNamespace(id=None))
    load_demo(session)
    with frozen_at(at):
        whistle = register.report_whistle(session, **fields)
    session.flush()
    return whistle
