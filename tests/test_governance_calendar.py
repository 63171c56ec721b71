"""Working days, report and completion deadlines (R8, R10), joint-meeting dates (R3)."""
from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar
import pytest

from governance.calendar import (TZ, add_working_days, completion_due, is_workday, iso, parse_datetime,
                                 report_due, target_due, working_deadline)
from governance.meetings import default_meeting_day, next_joint_meeting, set_meeting_date


def _nth_workday_after(day: date, n: int) -> date:
    """Independent reference: chinese_calendar's own list of working days."""
    return chinese_calendar.get_workdays(day + timedelta(days=1), day + timedelta(days=60))[n - 1]


def test_add_working_days_crosses_national_day_2026_and_its_makeup_saturday():
    start = date(2026, 9, 30)
    assert chinese_calendar.is_holiday(date(2026, 10, 1))
    make_up = date(2026, 10, 10)
    assert make_up.weekday() == 5 and chinese_calendar.is_workday(make_up)  # 调休 Saturday
    for n in range(1, 6):
        assert add_working_days(start, n) == _nth_workday_after(start, n)
    assert add_working_days(start, 3) == make_up


def test_add_working_days_zero_and_negative():
    assert add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 3)
    with pytest.raises(ValueError):
        add_working_days(date(2026, 10, 3), -1)


def test_r07_reply_deadline_is_working_days_at_the_end_of_the_day():
    opened = datetime(2026, 9, 30, 10, 0, tzinfo=TZ)
    due = working_deadline(opened, 3)
    assert iso(due) == f"{_nth_workday_after(date(2026, 9, 30), 3).isoformat()}T17:30:00+08:00"
    assert iso(working_deadline(opened, 3, time(18, 0))).endswith("T18:00:00+08:00")   # the setting


def test_r08_report_due_is_seven_calendar_days_at_1730_moved_off_the_national_day_holiday():
    issued = datetime(2026, 9, 29, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
    assert not chinese_calendar.is_workday(date(2026, 10, 6))  # the seventh day is a holiday
    assert iso(report_due(issued)) == "2026-10-08T17:30:00+08:00"
    assert iso(report_due(datetime(2026, 11, 2, 9, tzinfo=TZ))) == "2026-11-09T17:30:00+08:00"


@pytest.mark.parametrize("start,expected", [
    ("2026-11-30T10:00:00+08:00", "2027-03-01T17:30:00+08:00"),   # 28 Feb 2027 is a Sunday
    ("2027-11-30T10:00:00+08:00", "2028-02-29T17:30:00+08:00"),   # leap year, a Tuesday
    ("2026-01-31T09:30:00+08:00", "2026-04-30T17:30:00+08:00"),   # clamped to the month's end
    ("2025-11-28T09:00:00+08:00", "2026-02-28T17:30:00+08:00"),   # a make-up working Saturday
    ("2026-12-31T23:59:00+08:00", "2027-03-31T17:30:00+08:00"),   # the order's LOCAL date counts
])
def test_r10_deadlines_end_at_1730_on_a_working_day_one_quarter_after_the_order(start, expected):
    due = completion_due(parse_datetime(start))
    assert iso(due) == expected
    assert is_workday(due.date())


def test_r10_deadlines_end_at_1730_on_a_working_day_the_end_of_day_is_a_setting():
    issued = datetime(2026, 3, 2, 9, tzinfo=TZ)
    assert iso(completion_due(issued, at=time(18, 0))) == "2026-06-02T18:00:00+08:00"
    # an entered rest day moves the deadline on
    assert iso(completion_due(issued, adjustments={date(2026, 6, 2): False})) == "2026-06-03T17:30:00+08:00"


@pytest.mark.parametrize("start,period,expected", [
    ("2026-03-15T09:00:00+08:00", "P1M", "2026-04-15T17:30:00+08:00"),
    ("2026-03-15T09:00:00+08:00", "P2M", "2026-05-15T17:30:00+08:00"),
    ("2026-01-31T09:30:00+08:00", "P1M", "2026-02-28T17:30:00+08:00"),
    ("2026-09-29T09:00:00+08:00", "P1W", "2026-10-08T17:30:00+08:00"),   # off the holiday
    ("2026-03-15T09:00:00+08:00", "P3M", None),                          # not earlier: no target
    ("2026-03-15T09:00:00+08:00", None, None),
])
def test_r10_the_priority_period_is_only_an_earlier_target(start, period, expected):
    assert iso(target_due(parse_datetime(start), period)) == expected


@pytest.mark.parametrize("period", ["P4M", "P1Y", "P100D", "P14W", "P0M", "3 months"])
def test_r10_a_target_beyond_a_quarter_is_refused(period):
    with pytest.raises(ValueError):
        target_due(datetime(2026, 1, 1, tzinfo=TZ), period)


def test_parse_datetime_forms():
    assert iso(parse_datetime("2026-12-04")) == "2026-12-04T17:30:00+08:00"
    assert iso(parse_datetime("2026-12-04T09:00:00")) == "2026-12-04T09:00:00+08:00"
    assert iso(parse_datetime("2026-12-04T01:00:00Z")) == "2026-12-04T09:00:00+08:00"
    with pytest.raises(ValueError):
        parse_datetime("")


def test_r03_default_meeting_is_mid_first_month_moved_to_a_working_day():
    day = default_meeting_day(2023, 1)          # 2023-01-15 is a Sunday
    expected = next(d for d in (date(2023, 1, 15) + timedelta(i) for i in range(15))
                    if chinese_calendar.is_workday(d))
    assert day == expected and day != date(2023, 1, 15)
    assert default_meeting_day(2026, 4) == date(2026, 10, 15)


def test_r03_next_joint_meeting_default_and_override(session):
    from governance.demo import load_demo
    load_demo(session)
    community = "hs-jfl-sq1"
    at = next_joint_meeting(session, community, datetime(2026, 9, 20, tzinfo=TZ))
    assert iso(at) == "2026-10-15T09:00:00+08:00"
    # the meeting day itself, after it started: next quarter
    at = next_joint_meeting(session, community, datetime(2026, 10, 15, 10, tzinfo=TZ))
    assert at.date() >= date(2027, 1, 15) and at.date().month == 1
    # a recorded date replaces the default of its quarter
    set_meeting_date(session, community, date(2026, 11, 5))
    set_meeting_date(session, community, date(2026, 11, 5))   # idempotent
    at = next_joint_meeting(session, community, datetime(2026, 10, 1, tzinfo=TZ))
    assert iso(at) == "2026-11-05T09:00:00+08:00"
    other = next_joint_meeting(session, "hs-jfl-sq2", datetime(2026, 10, 1, tzinfo=TZ))
    assert iso(other) == "2026-10-15T09:00:00+08:00"
