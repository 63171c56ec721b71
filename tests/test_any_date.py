"""The suite passes whatever the date: a whole rule story — report, triage, street, dispatch,
report for duty, completion, survey, evaluation — run through the officers' inboxes with the
story's clock AND the machine's wall clock set on New Year's Eve, New Year's Day and a leap day
(time-machine moves the wall clock; every step takes its instant from the injected clock).

The whole suite can also be run on another wall clock: WHISTLE_TEST_WALL_CLOCK=… make test.
"""
from datetime import datetime, timedelta

import pytest
import time_machine

from governance import assessment as A
from governance.calendar import TZ
from governance.models import Evaluation, TaskOrder
from tests.procedure_kit import local, world  # noqa: F401  (fixture)

DAYS = {
    "new_years_eve": (local(2026, 12, 31, 10), local(2027, 1, 7, 17, 30), local(2027, 3, 31, 17, 30)),
    "new_years_day": (local(2027, 1, 1, 10), local(2027, 1, 8, 17, 30), local(2027, 4, 1, 17, 30)),
    "leap_day": (local(2028, 2, 29, 10), local(2028, 3, 7, 17, 30), local(2028, 5, 29, 17, 30)),
}


@pytest.mark.parametrize("day", sorted(DAYS))
def test_a_whole_story_runs_the_same_on_new_years_eve_new_years_day_and_a_leap_day(world, day):
    dispatched, report_due, complete_due = DAYS[day]
    with time_machine.travel(dispatched, tick=False):
        assert datetime.now(TZ) == dispatched   # clock-ok: proves time-machine moved the wall clock to that day
        w = world.report(f"跨日测试：{day}", at=dispatched - timedelta(days=4), community_id="ys-ys-sq3")
        world.to_handling(w, dispatched, lead="ys-cgj")
        row = world.whistle(w)
        # R8: a week from the order, R10: a quarter (calendar months), each at 17:30 of a working day
        assert (row.report_due, row.complete_due) == (report_due, complete_due)
        world.fire(report_due - timedelta(minutes=1))
        world.report_for_duty(w, report_due - timedelta(hours=2), dept="ys-cgj")
        world.fire(report_due + timedelta(minutes=1))
        world.complete_matter(w, dispatched + timedelta(days=20), dept="ys-cgj")
        world.survey(w, dispatched + timedelta(days=21))
        world.evaluate_all(w, dispatched + timedelta(days=22))
        world.fire(complete_due + timedelta(days=1))
    row = world.whistle(w)
    assert row.stage == "closed" and not row.report_overdue and not row.complete_overdue
    [order] = world.rows(TaskOrder, w)
    assert order.report_due == report_due and not order.report_overdue
    [evaluation] = world.rows(Evaluation, w)
    assert evaluation.department_id == "ys-cgj" and evaluation.at == dispatched + timedelta(days=22)


@pytest.mark.parametrize("wall", [local(2026, 12, 31, 23, 59), local(2027, 1, 1, 0, 1), local(2028, 2, 29, 12)])
def test_r17_the_assessment_year_follows_the_injected_clock_not_the_wall_clock(wall):
    """Whatever the machine's date, a year's assessment starts after that year and a manual start
    is judged by the instant the caller gives."""
    with time_machine.travel(wall, tick=False):
        assert A.start_at(2026) == local(2027, 1, 4, 9)
        assert A.start_at(2027) == local(2028, 1, 3, 9)
        assert A.year_has_ended(2026, local(2027, 1, 1, 0, 0)) and not A.year_has_ended(2026, local(2026, 12, 31, 23, 59))
