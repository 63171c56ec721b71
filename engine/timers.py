"""The timer worker's sweep: fire every instance with a timer due, one transaction per instance.

The cost of a sweep follows the number of due timer rows (an index range scan on due_at), not the
number of instances. On PostgreSQL the due rows are taken with SKIP LOCKED, so several workers
share the work; on SQLite writers are serialised and a second worker finds nothing left to do.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from . import clock
from .db import is_postgres, write_session
from .errors import Conflict
from .models import Instance, Timer
from .runtime import fire_timers

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    fired: list[int] = field(default_factory=list)       # instance ids whose timers fired
    incidents: list[int] = field(default_factory=list)   # of those, the ones that failed
    conflicts: int = 0


def _next_due(session, now: datetime, skip: set[int]) -> int | None:
    query = (select(Timer.instance_id).join(Instance, Instance.id == Timer.instance_id)
             .where(Timer.due_at < now, Instance.status.in_(("running", "waiting")))
             .order_by(Timer.due_at).limit(1))
    if skip:
        query = query.where(Timer.instance_id.not_in(skip))
    if is_postgres(session):
        query = query.with_for_update(of=Timer, skip_locked=True)
    return session.scalar(query)


def sweep(factory: sessionmaker, now: datetime | None = None, limit: int = 10_000) -> SweepResult:
    """Fire what is due at `now` (default: the engine clock)."""
    now = now or clock.now()
    result, seen = SweepResult(), set()
    while len(seen) < limit:
        try:
            with write_session(factory) as session:
                instance_id = _next_due(session, now, seen)
                if instance_id is None:
                    break
                seen.add(instance_id)
                instance = fire_timers(session, instance_id, now=now)
                result.fired.append(instance_id)
                if instance.status == "incident":
                    result.incidents.append(instance_id)
        except Conflict:
            result.conflicts += 1  # changed meanwhile: the next sweep sees the new state
            log.info("timer sweep: conflict, will retry")
    return result
