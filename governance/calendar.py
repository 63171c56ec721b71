"""Dates and deadlines in Asia/Shanghai.

* Working days come from the `chinese-calendar` package, which knows the statutory holidays and
  the make-up working days (调休) announced by the State Council. For a year the package does not
  cover yet, Monday to Friday are taken as working days.
* Administrators enter the official arrangement themselves (table `calendar_days`, see
  `governance.calendar_days`): an entered day overrides both the package and the Monday–Friday
  fallback. The functions here stay pure: callers with a session load the entries with
  `calendar_days.calendar_adjustments(session, since)` and pass them as `adjustments`
  ({date: is_workday}).
* Every deadline ends at the end of a working day: at `END_OF_DAY` (17:30, the default of the
  policy setting `end_of_day`, see `governance.policy_settings`) on that day, or on the next
  working day when the day is a rest day.
* The completion deadline (R10) is one quarter after the task order: the same day of the month
  three CALENDAR months later (clamped to the end of a shorter month), at the end of the working
  day. The priority table may set an earlier *target* (`target_due`): never a deadline.
* The report deadline (R8) is seven calendar days after the task order, at the end of the
  working day.

Every datetime handed out is timezone-aware; `iso()` renders it with the +08:00 offset.
"""
from __future__ import annotations

import calendar as _stdcal
import functools
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar

TZ = ZoneInfo("Asia/Shanghai")
END_OF_DAY = time(17, 30)           # deadlines end at 17:30 local time (default of the setting)
OFFICE_CLOSE = END_OF_DAY           # a date given without time means the end of that day
REPORT_DAYS = 7                     # R8: report for duty within one week of the task order
MAX_COMPLETION_MONTHS = 3           # R10: complete within one quarter

PACKAGE_FIRST_YEAR = 2004          # the first year `chinese-calendar` knows

_PERIOD = re.compile(r"^P(?:(?P<months>\d+)M|(?P<weeks>\d+)W|(?P<days>\d+)D)$")


# -- conversions ---------------------------------------------------------------------------

def to_local(dt: datetime) -> datetime:
    """`dt` in Asia/Shanghai; a naive value is taken as UTC (how the database hands it back)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(TZ)


def to_utc(dt: datetime) -> datetime:
    """`dt` in UTC; a naive value is taken as UTC."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 with the +08:00 offset, to the second (None stays None)."""
    return None if dt is None else to_local(dt).isoformat(timespec="seconds")


def parse_datetime(value, *, default_time: time = OFFICE_CLOSE) -> datetime:
    """A timezone-aware datetime from a datetime, a date or an ISO-8601 string.

    A date (or a date-only string) means `default_time` on that day in Asia/Shanghai; a naive
    datetime or string without offset is taken as Asia/Shanghai local time.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=TZ)
    if isinstance(value, date):
        return datetime.combine(value, default_time, tzinfo=TZ)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a date or datetime: {value!r}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), default_time, tzinfo=TZ)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=TZ)


def local_date(dt: datetime) -> date:
    return to_local(dt).date()


# -- working days --------------------------------------------------------------------------

Adjustments = dict[date, bool]   # entered days: True = make-up working day, False = holiday


def is_workday(day: date, adjustments: Adjustments | None = None) -> bool:
    """True on a Chinese working day (holidays off, make-up Saturdays/Sundays on); a day in
    `adjustments` is decided by its entry."""
    if adjustments and day in adjustments:
        return adjustments[day]
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:     # year not covered by the package yet
        return day.weekday() < 5


def package_covers(year: int) -> bool:
    """Whether the `chinese-calendar` package knows the holidays of `year`."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@functools.cache
def package_last_year() -> int:
    """The last year the package covers (it starts with 2004)."""
    year = PACKAGE_FIRST_YEAR
    while package_covers(year + 1):
        year += 1
    return year


def add_working_days(day: date, n: int, adjustments: Adjustments | None = None) -> date:
    """The n-th working day after `day` (`day` itself is not counted; n=0 returns `day`)."""
    if n < 0:
        raise ValueError("n must not be negative")
    if isinstance(day, datetime):
        day = day.date()
    current = day
    while n > 0:
        current += timedelta(days=1)
        if is_workday(current, adjustments):
            n -= 1
    return current


def working_deadline(start: datetime, days: int, at: time = END_OF_DAY,
                     adjustments: Adjustments | None = None) -> datetime:
    """`days` working days after the local date of `start`, at `at` (17:30) Asia/Shanghai."""
    return datetime.combine(add_working_days(local_date(start), days, adjustments), at, tzinfo=TZ)


def next_working_day(day: date, adjustments: Adjustments | None = None) -> date:
    """`day` itself when it is a working day, else the first working day after it."""
    if isinstance(day, datetime):
        day = day.date()
    return day if is_workday(day, adjustments) else add_working_days(day, 1, adjustments)


def end_of_working_day(day: date, at: time = END_OF_DAY, adjustments: Adjustments | None = None) -> datetime:
    """A deadline falling on `day`: at `at` that day, moved to the next working day from a rest day."""
    return datetime.combine(next_working_day(day, adjustments), at, tzinfo=TZ)


# -- calendar months -----------------------------------------------------------------------

def add_months(dt: datetime, months: int) -> datetime:
    """Same local wall time and day of month `months` later, clamped to the month's last day."""
    local = to_local(dt)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, _stdcal.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def _period_end(start: datetime, period: str) -> datetime:
    match = _PERIOD.match((period or "").strip().upper())
    if not match:
        raise ValueError(f"unsupported period {period!r} (use P1M, P2M, P3M, weeks or days)")
    if match["months"]:
        due = add_months(start, int(match["months"]))
    elif match["weeks"]:
        due = start + timedelta(weeks=int(match["weeks"]))
    else:
        due = start + timedelta(days=int(match["days"]))
    if due <= start:
        raise ValueError(f"period {period!r} must be positive")
    return due


def completion_due(dispatched_at: datetime, *, at: time = END_OF_DAY,
                   adjustments: Adjustments | None = None) -> datetime:
    """R10: one quarter after the task order (three calendar months), at the end of that
    working day (or of the next one, from a rest day). Only an extension (R11) moves it."""
    quarter = add_months(to_local(dispatched_at), MAX_COMPLETION_MONTHS)
    return end_of_working_day(quarter.date(), at, adjustments)


def target_due(dispatched_at: datetime, period: str | None, *, at: time = END_OF_DAY,
               adjustments: Adjustments | None = None) -> datetime | None:
    """R4: the earlier target the priority table may set (`period`: P1M, P2M, weeks or days after
    the order), at the end of a working day; None without a period or when it is not earlier
    than the quarter (`completion_due`). A period beyond one quarter is refused."""
    if not period:
        return None
    start = to_local(dispatched_at)
    end = _period_end(start, period)
    if end > add_months(start, MAX_COMPLETION_MONTHS):
        raise ValueError(f"period {period!r} exceeds one quarter (R10: at most P3M)")
    target = end_of_working_day(end.date(), at, adjustments)
    return target if target < completion_due(dispatched_at, at=at, adjustments=adjustments) else None


def report_due(dispatched_at: datetime, *, at: time = END_OF_DAY,
               adjustments: Adjustments | None = None) -> datetime:
    """R8: seven calendar days after the task order, at the end of that working day (or of
    the next one, from a rest day)."""
    return end_of_working_day(local_date(dispatched_at) + timedelta(days=REPORT_DAYS), at, adjustments)


def quarter_start(year: int, quarter: int) -> date:
    return date(year, 3 * (quarter - 1) + 1, 1)
