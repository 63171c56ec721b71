"""An independent reference for the policy's deadlines in tests (R8, R10, R19): written out
with `chinese_calendar` and `dateutil`, not with governance.calendar."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import chinese_calendar
from dateutil.relativedelta import relativedelta

from governance.calendar import TZ

END_OF_DAY = time(17, 30)     # the default of the policy setting `end_of_day`


def workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:          # a year the package does not know yet: Monday–Friday
        return day.weekday() < 5


def end_of_working_day(day: date, at: time = END_OF_DAY) -> datetime:
    """`at` on `day`, or on the first working day after it."""
    while not workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, at, tzinfo=TZ)


def quarter_after(issued: datetime) -> datetime:
    """R10: three calendar months after the order, at the end of a working day."""
    return end_of_working_day((issued.astimezone(TZ) + relativedelta(months=3)).date())


def week_after(issued: datetime) -> datetime:
    """R8: seven days after the order, at the end of a working day."""
    return end_of_working_day(issued.astimezone(TZ).date() + timedelta(days=7))


def working_days_after(start: datetime, n: int, at: time = END_OF_DAY) -> datetime:
    """R19: the n-th working day after the local date of `start`, at `at`."""
    day = start.astimezone(TZ).date()
    while n:
        day += timedelta(days=1)
        n -= workday(day)
    return datetime.combine(day, at, tzinfo=TZ)
