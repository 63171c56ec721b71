"""R3: when a community's quarterly joint meeting (社区党建联席会议) sits.

Rule: each quarter's meeting is held on the 15th of the quarter's first month (15 January,
15 April, 15 July, 15 October) at 09:00 Asia/Shanghai; when that day is not a working day it
moves to the next working day. A community may record its own dates (`JointMeetingDate`):
dates recorded for a quarter replace that quarter's default date.
"""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select

from .calendar import TZ, Adjustments, add_working_days, is_workday, quarter_start, to_local
from .calendar_days import calendar_adjustments
from .models import JointMeetingDate

MEETING_DAY = 15            # day of the quarter's first month
MEETING_TIME = time(9, 0)   # local time the meeting starts
LOOKAHEAD_QUARTERS = 8


def default_meeting_day(year: int, quarter: int, adjustments: Adjustments | None = None) -> date:
    """The default meeting date of a quarter (moved to the next working day if needed);
    `adjustments` are the calendar days entered by administrators."""
    day = quarter_start(year, quarter).replace(day=MEETING_DAY)
    return day if is_workday(day, adjustments) else add_working_days(day, 1, adjustments)


def _quarter(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def set_meeting_date(session, community_id: str, held_on: date) -> JointMeetingDate:
    """Record a community-specific meeting date (idempotent)."""
    row = session.scalar(select(JointMeetingDate).where(JointMeetingDate.community_id == community_id,
                                                        JointMeetingDate.held_on == held_on))
    if row is None:
        row = JointMeetingDate(community_id=community_id, held_on=held_on)
        session.add(row)
        session.flush()
    return row


def next_joint_meeting(session, community_id: str | None, after: datetime) -> datetime:
    """The start of the community's first joint meeting strictly after `after`."""
    after_local = to_local(after)
    overrides: dict[tuple[int, int], list[date]] = {}
    if session is not None and community_id:
        for held_on in session.scalars(select(JointMeetingDate.held_on)
                                       .where(JointMeetingDate.community_id == community_id)):
            overrides.setdefault(_quarter(held_on), []).append(held_on)
    year, quarter = _quarter(after_local.date())
    adjustments = calendar_adjustments(session, quarter_start(year, quarter)) if session is not None else None
    for _ in range(LOOKAHEAD_QUARTERS):
        for day in sorted(overrides.get((year, quarter)) or [default_meeting_day(year, quarter, adjustments)]):
            start = datetime.combine(day, MEETING_TIME, tzinfo=TZ)
            if start > after_local:
                return start
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    raise ValueError(f"no joint meeting found for {community_id} within {LOOKAHEAD_QUARTERS} quarters")
