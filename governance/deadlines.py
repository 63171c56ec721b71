"""The procedure's deadlines with the current policy settings and the working-day calendar
(the package plus the days administrators entered): the task order's (R8, R10, the R4 target)
and those of the steps before dispatch (R19, 短平快), and the notice when such a step is late.
`governance.calendar` does the pure date arithmetic; this module feeds it the settings and the
entered days of a session."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from engine.clock import now

from . import calendar as cal
from . import policy_settings
from .calendar_days import calendar_adjustments
from .directory import CITY_ID, org_unit_id
from .models import Whistle, WhistleEvent
from .notices import notify
from .register import record_event


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


# -- the steps before dispatch (R19, 短平快) ------------------------------------------------------

STEP_NAMES = {"triage": "社区研判", "street_coordinate": "街道协调", "street_review": "街道审核",
              "propose": "拟定责任部门", "confirm_dispatch": "确认派单"}


def step_units(whistle: Whistle, step: str) -> list[str]:
    """Who hears of a missed step: the unit holding it and the one above it (the community and
    its street; the street and its district's org department; the org department of the
    dispatching level and, for a district, the city's)."""
    if step == "triage":
        units = [whistle.community_id, whistle.street_id]
    elif step in ("street_coordinate", "street_review"):
        units = [whistle.street_id, whistle.district_id]
    else:
        level = whistle.level or "district"
        units = [org_unit_id(level, whistle.district_id), CITY_ID]
    return [u for u in dict.fromkeys(units) if u]


def flag_step_overdue(session, whistle: Whistle, step: str, due: datetime | None, *,
                      at: datetime | None = None) -> bool:
    """The step `step` was not done by `due`: record it on the whistle's timeline and notify
    the units of `step_units`, once per step and deadline (a second call, or a call before
    `due`, does nothing and returns False)."""
    if step not in STEP_NAMES:
        raise ValueError(f"step must be one of {tuple(STEP_NAMES)}, not {step!r}")
    at = at or now()
    if due is not None and at < due:
        return False
    name = STEP_NAMES[step]
    text = (f"【{name}逾期】“{whistle.title}”（{whistle.whistle_no}）未在 "
            f"{cal.iso(due)[:16].replace('T', ' ') if due else '规定时限'} 前完成{name}（短平快）。")
    already = session.scalar(select(func.count(WhistleEvent.id)).where(
        WhistleEvent.whistle_id == whistle.id, WhistleEvent.kind == "step_overdue", WhistleEvent.text == text))
    if already:
        return False
    for unit in step_units(whistle, step):
        notify(session, unit, "step_overdue", text=text, whistle_id=whistle.id, at=at)
    record_event(session, whistle, "step_overdue", at=at, text=text)
    return True
