"""R3: when a community's quarterly joint meeting (社区党建联席会议) sits.

Rule (a local choice, policy settings `joint_meeting_day` and `joint_meeting_time`): each
quarter's meeting is held on the 15th of the quarter's first month (15 January, 15 April,
15 July, 15 October) at 09:00 Asia/Shanghai by default; when that day is not a working day it
moves to the next working day. A community may record its own dates (`JointMeetingDate`):
dates recorded for a quarter replace that quarter's default date.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from . import policy_settings
from .calendar import TZ, Adjustments, next_working_day, quarter_start, to_local
from .calendar_days import calendar_adjustments
from .models import JointMeetingDate

MEETING_DAY = policy_settings.DEFAULTS["joint_meeting_day"]     # day of the quarter's first month
MEETING_TIME = policy_settings.as_time(policy_settings.DEFAULTS["joint_meeting_time"])   # local start
LOOKAHEAD_QUARTERS = 8


def default_meeting_day(year: int, quarter: int, adjustments: Adjustments | None = None,
                        day_of_month: int = MEETING_DAY) -> date:
    """The default meeting date of a quarter (moved to the next working day if needed);
    `adjustments` are the calendar days entered by administrators, `day_of_month` the setting."""
    return next_working_day(quarter_start(year, quarter).replace(day=int(day_of_month)), adjustments)


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
    settings = policy_settings.current(session)["values"]
    day_of_month, at = settings["joint_meeting_day"], policy_settings.as_time(settings["joint_meeting_time"])
    for _ in range(LOOKAHEAD_QUARTERS):
        for day in sorted(overrides.get((year, quarter))
                          or [default_meeting_day(year, quarter, adjustments, day_of_month)]):
            start = datetime.combine(day, at, tzinfo=TZ)
            if start > after_local:
                return start
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    raise ValueError(f"no joint meeting found for {community_id} within {LOOKAHEAD_QUARTERS} quarters")
