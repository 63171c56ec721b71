"""Failed logins counted in the database, so the limits hold across web workers and machines.

Two kinds of counter, one row per key in `login_throttle`:
- per account (`account:<username>`, known or not, so a lockout tells nothing about who exists):
  after `max_failures` failures the account is locked for `lockout` seconds, doubled with every
  further failure up to `lockout_max` (back-off); a successful login clears it; failures older
  than `window` start a new count.
- per client address (`address:<ip>`): after `max_failures` failures within `window` seconds the
  address is refused until the window ends; a successful login does not clear it.

Every failure is one atomic upsert (INSERT … ON CONFLICT DO UPDATE on PostgreSQL and SQLite), so
concurrent workers never lose a count. Times come from the engine clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, case, delete, literal, select
from sqlalchemy.orm import Mapped, mapped_column

from engine.clock import now
from engine.db import Base
from engine.models import UTCDateTime


class LoginThrottle(Base):
    """Failed logins of one account or one client address."""
    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    last_failure: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Limit:
    """`max_failures` within `window` seconds; then refused for `lockout` seconds after the last
    failure, doubled per further failure up to `lockout_max` (lockout None: until the window ends)."""
    max_failures: int
    window: int
    lockout: int | None = None
    lockout_max: int | None = None

    def refused_until(self, row: LoginThrottle | None, at: datetime) -> datetime | None:
        if row is None or self.max_failures <= 0:
            return None
        if row.window_start + timedelta(seconds=self.window) <= at:
            return None  # the count has lapsed
        if row.failures < self.max_failures:
            return None
        if self.lockout is None:
            until = row.window_start + timedelta(seconds=self.window)
        else:
            seconds = self.lockout * 2 ** min(row.failures - self.max_failures, 30)
            until = row.last_failure + timedelta(seconds=min(seconds, self.lockout_max or seconds))
        return until if until > at else None


def account_key(username: str) -> str:
    return "account:" + (username or "").strip().lower()[:200]


def address_key(address: str | None) -> str:
    return "address:" + (address or "unknown")[:200]


def refused_until(session, key: str, limit: Limit) -> datetime | None:
    """Until when logins under `key` are refused (None: they are not)."""
    return limit.refused_until(session.get(LoginThrottle, key), now())


def record_failure(session, key: str, limit: Limit) -> None:
    """Count one failed login under `key` (atomically; a lapsed count starts again). The caller commits."""
    at = now()
    lapsed = LoginThrottle.window_start <= at - timedelta(seconds=limit.window)
    values = {"key": key, "failures": 1, "window_start": at, "last_failure": at}
    update = {"failures": case((lapsed, 1), else_=LoginThrottle.failures + 1),
              "window_start": case((lapsed, literal(at, UTCDateTime())), else_=LoginThrottle.window_start),
              "last_failure": at}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"login limits need PostgreSQL or SQLite, not {dialect}")
    stmt = insert(LoginThrottle).values(**values)
    session.execute(stmt.on_conflict_do_update(index_elements=[LoginThrottle.key], set_=update))
    session.expire_all()


def clear(session, key: str) -> None:
    """Forget the failures under `key` (a successful login of that account). The caller commits."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def failures(session, key: str) -> int:
    return session.scalar(select(LoginThrottle.failures).where(LoginThrottle.key == key)) or 0
