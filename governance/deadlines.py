"""The procedure's deadlines with the current policy settings and the working-day calendar
(the package plus the days administrators entered): the task order's (R8, R10, the R4 target)
and those of the steps before dispatch (R19, 短平快). `governance.calendar` does the pure date
arithmetic; this module only feeds it the settings and the entered days of a session."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import calendar as cal
from . import policy_settings
from .calendar_days import calendar_adjustments


@dataclass(frozen=True)
class OrderDeadlines:
    report_due: datetime            # R8: 7 days, end of a working day
    complete_due: datetime          # R10: one quarter, end of a working day
    target_due: datetime | None     # R4: the priority table's earlier target, if any


def _adjustments(session, since: datetime):
    return calendar_adjustments(session, cal.local_date(since)) if session is not None else None


def order_deadlines(session, issued_at: datetime, completion_period: str | None = None) -> OrderDeadlines:
    """The deadlines of a task order issued at `issued_at`; `completion_period` (the priority
    table's output) only sets the target."""
    at, adjustments = policy_settings.end_of_day(session), _adjustments(session, issued_at)
    return OrderDeadlines(
        report_due=cal.report_due(issued_at, at=at, adjustments=adjustments),
        complete_due=cal.completion_due(issued_at, at=at, adjustments=adjustments),
        target_due=cal.target_due(issued_at, completion_period, at=at, adjustments=adjustments))


def working_days_due(session, start: datetime, days: int) -> datetime:
    """`days` working days after the local date of `start`, at the end of the working day."""
    return cal.working_deadline(start, int(days), policy_settings.end_of_day(session),
                                _adjustments(session, start))


def step_due(session, step: str, start: datetime) -> datetime:
    """R19: the deadline of the pre-dispatch step `step` (triage, street_coordinate,
    street_review, propose, confirm_dispatch) begun at `start`."""
    return working_days_due(session, start, policy_settings.step_days(session, step))
