"""R17: the annual assessment takes the whole calendar year, December included. Its timer start
fires after the year has ended; city_org may start a year by hand only once it has ended; a year
whose start has passed is never scheduled (a fresh install must not fire it at once). Every
instant here is injected: nothing depends on today's date."""
from datetime import datetime

import pytest
from sqlalchemy import func, select

from engine import timers
from engine.db import write_session
from engine.models import Instance, Timer
from governance import assessment as A
from governance import register
from governance.calendar import TZ
from governance.models import Evaluation
from tests.webkit import prepare_database


@pytest.fixture
def factory(db_url):
    factory = prepare_database(db_url)
    yield factory
    factory.kw["bind"].dispose()


def local(y, m, d, hh=9, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def _evaluated_on(factory, at: datetime, department_id="hs-cgj", grade="excellent"):
    """A whistle of a Huashan community and one evaluation of `department_id` recorded at `at`."""
    with write_session(factory) as session:
        w = register.report_whistle(session, title="年末事项", description="年末事项", category="市容环境",
                                    community_id="hs-jfl-sq1", location="示例路 1 号", reporter="网格员",
                                    source="patrol", actor="wg-hs-jfl-sq1")
        session.flush()
        session.add(Evaluation(whistle_id=w.id, department_id=department_id, grade=grade, timeliness=grade,
                               plan=grade, result=grade, attitude=grade, opinion="年末评价",
                               facts={"role": "lead", "report_overdue": False, "complete_overdue": False}, at=at))


def test_r17_the_assessment_cannot_start_before_the_year_has_ended(factory):
    with write_session(factory) as session:
        with pytest.raises(A.AssessmentError, match="尚未结束"):
            A.start_assessment(session, 2026, actor="zzb-mas", at=local(2026, 12, 31, 23, 59))
    with factory() as session:
        assert A.get_year(session, 2026) is None
        assert session.scalar(select(func.count()).select_from(Instance)) == 0
    with write_session(factory) as session:
        instance = A.start_assessment(session, 2026, actor="zzb-mas", at=local(2027, 1, 1, 0, 0))
        assert instance.status == "running", instance.incident


def test_r17_a_year_whose_start_has_passed_is_not_scheduled_on_a_fresh_install(factory):
    installed = local(2026, 12, 2, 10)
    with write_session(factory) as session:
        assert A.schedule_year(session, 2025, actor="system", at=installed) is None
        row = A.schedule_current_year(session, actor="system", at=installed)
        assert row.year == 2026 and row.status == "scheduled"
    with factory() as session:
        [timer] = session.scalars(select(Timer)).all()
        assert timer.due_at == A.start_at(2026) == local(2027, 1, 4, 9)    # 2 and 3 January 2027: weekend
    assert timers.sweep(factory, now=installed).fired == []
    with factory() as session:
        assert A.get_year(session, 2025) is None and A.get_year(session, 2026).status == "scheduled"


def test_r17_the_timer_start_after_new_year_aggregates_december_with_the_communities_grades(factory):
    with write_session(factory) as session:
        A.schedule_year(session, 2026, actor="system", at=local(2026, 3, 1))
        A.save_settings(session, actor="policy", response_weight=0, resolution_weight=0,
                        satisfaction_weight=0, opinion_weight=1, note="只看社区评价")
    _evaluated_on(factory, local(2026, 12, 31, 23, 30), grade="fair")        # the year's last evening
    _evaluated_on(factory, local(2027, 1, 1, 0, 30), grade="excellent")      # next year: not counted
    with factory() as session:
        assessment_instance = A.get_year(session, 2026).instance_id
    early = timers.sweep(factory, now=local(2027, 1, 4, 8, 59))          # the whistles' own timers may fire
    assert assessment_instance not in early.fired and not early.incidents
    with factory() as session:
        assert A.get_year(session, 2026).status == "scheduled"
    result = timers.sweep(factory, now=local(2027, 1, 4, 9, 1))
    assert assessment_instance in result.fired and not result.incidents
    with factory() as session:
        results = A.annual_results(session, 2026)
    [dept] = results["departments"]
    assert dept["department_id"] == "hs-cgj" and dept["evaluations"] == 1 and dept["fair"] == 1
    # only the community's grade weighs here: "fair" is worth 70 points, which reaches the "fair" line (60)
    assert dept["opinion_score"] == 70.0 and dept["score"] == 70.0 and dept["computed_grade"] == "fair"
