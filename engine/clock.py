"""The engine's clock: real time by default, a fixed instant inside `frozen_at`.

SpiffWorkflow reads `datetime.now(timezone.utc)` inside its timer module and has no clock hook,
so that module's `datetime` is replaced once by a subclass whose `now()` asks this clock.
"""
from __future__ import annotations

import contextlib
import contextvars
from datetime import datetime, timezone

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

_frozen: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("engine_now", default=None)


def now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    fixed = _frozen.get()
    return fixed if fixed is not None else datetime.now(timezone.utc)


@contextlib.contextmanager
def frozen_at(instant: datetime | None):
    """Run the block with the engine clock fixed at `instant` (None: leave the clock as it is)."""
    if instant is None:
        yield
        return
    if instant.tzinfo is None:
        raise ValueError("the clock needs a timezone-aware datetime")
    token = _frozen.set(instant.astimezone(timezone.utc))
    try:
        yield
    finally:
        _frozen.reset(token)


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        instant = now()
        return instant.astimezone(tz) if tz is not None else instant.astimezone().replace(tzinfo=None)


_spiff_timer.datetime = _ClockedDatetime
