"""Notices to units: every officer of the unit sees them until one marks them read."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.clock import now

from .models import Notice


def notify(session, unit_id: str, kind: str, text: str, *, whistle_id: int | None = None,
           at: datetime | None = None) -> Notice:
    notice = Notice(unit_id=unit_id, kind=kind, text=text, whistle_id=whistle_id,
                    created_at=at or now())
    session.add(notice)
    return notice


def has_notice(session, whistle_id: int, kind: str) -> bool:
    return session.scalar(select(Notice.id).where(Notice.whistle_id == whistle_id,
                                                  Notice.kind == kind).limit(1)) is not None


def notices_for(session, unit_id: str, *, unread_only: bool = False, limit: int = 100) -> list[Notice]:
    stmt = select(Notice).where(Notice.unit_id == unit_id)
    if unread_only:
        stmt = stmt.where(Notice.read_at.is_(None))
    return list(session.scalars(stmt.order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit)))


def mark_read(session, notice_id: int, unit_id: str, at: datetime | None = None) -> bool:
    """Mark a notice of `unit_id` read; False when it is not that unit's notice."""
    notice = session.get(Notice, notice_id)
    if notice is None or notice.unit_id != unit_id:
        return False
    if notice.read_at is None:
        notice.read_at = at or now()
    return True
