"""survey.record (R12), evaluation.record (R16), mechanism.register (R15)."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import handlers  # noqa: F401
from engine.registry import get_handler
from governance import register
from governance.calendar import TZ
from governance.evaluations import satisfaction_rate
from governance.models import Evaluation, StandingMechanism, Survey

from tests.handlerkit import handler_ctx, registered_whistle

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)


def make_ctx(session, data, now=NOW):
    return handler_ctx(session, data, now=now, actor="sq-bw-bw-sq1")


@pytest.fixture
def whistle(session, monkeypatch):
    return registered_whistle(session, monkeypatch, at=NOW, title="小饭桌无证经营", description="学校周边小饭桌卫生差",
                              category="市场秩序", community_id="bw-bw-sq1", location="博望中学旁", reporter="家长",
                              source="platform", actor="resident")


@pytest.mark.parametrize("counts,rate", [
    ((4, 2, 1, 1), 75.0), ((3, 1, 1, 1), 66.7), ((8, 1, 0, 7), 12.5), ((16, 1, 0, 15), 6.3),
    ((100, 90, 9, 1), 99.0), ((10, 6, 2, 0), 80.0),
])
def test_r12_satisfaction_rate(counts, rate):
    assert satisfaction_rate(*counts) == rate


@pytest.mark.parametrize("counts", [(0, 0, 0, 0), (3, 2, 2, 0), (3, -1, 0, 0), (3, 1.5, 0, 0), (3, "x", 0, 0)])
def test_r12_invalid_survey_counts_are_refused(counts):
    with pytest.raises(ValueError):
        satisfaction_rate(*counts)


def test_r12_survey_handler_records_on_the_register(session, whistle):
    out = get_handler("survey.record")(respondents=20, satisfied=15, basically_satisfied=4, dissatisfied=1,
                                       comments="整治效果明显", ctx=make_ctx(session, {"whistle_id": whistle.id}))
    assert out == {"satisfaction_rate": 95.0, "rework_threshold": 60.0}
    assert whistle.satisfaction_rate == 95.0
    assert session.scalars(select(Survey)).one().comments == "整治效果明显"
    assert "95.0%" in register.public_timeline(session, whistle)[-1]["reply"]
    assert get_handler("survey.record")(respondents=3, satisfied=1, basically_satisfied=1, dissatisfied=1,
                                        ctx=make_ctx(session, {})) == {"satisfaction_rate": 66.7, "rework_threshold": 60.0}


def test_r16_evaluation_stores_grades_with_the_departments_facts(session, whistle):
    ctx = lambda days=0: make_ctx(session, {"whistle_id": whistle.id}, NOW + timedelta(days=days))  # noqa: E731
    get_handler("dispatch.issue_order")(level="district", lead_department_id="bw-zjj",
                                        cooperating_department_ids=["city-scjgj"], completion_period="P2M", ctx=ctx())
    get_handler("escalation.overdue")(kind="report", ctx=ctx(8))
    get_handler("case.update")(stage="reported", ctx=ctx(9))
    get_handler("deadline.extend")(requested_due="2027-03-31", extension_reason="需联合执法", ctx=ctx(50))
    get_handler("case.update")(stage="survey", ctx=ctx(60))
    get_handler("survey.record")(respondents=10, satisfied=8, basically_satisfied=1, dissatisfied=1, ctx=ctx(61))
    evaluate = get_handler("evaluation.record")
    assert evaluate(department_id="bw-zjj", grade="good", timeliness="fair", plan="good", result="excellent",
                    attitude="good", opinion="报到迟到，但办理效果好", ctx=ctx(62)) == {}
    evaluate(department_id="city-scjgj", grade="excellent", timeliness="excellent", plan="good",
             result="excellent", attitude="excellent", opinion="积极配合", ctx=ctx(62))
    lead = session.scalars(select(Evaluation).where(Evaluation.department_id == "bw-zjj")).one()
    assert lead.facts == {"role": "lead", "task_order_no": "RWD-BW-2026-0001", "days_to_report": 9.0,
                          "days_to_complete": 60.0, "report_overdue": True, "complete_overdue": False,
                          "extensions": 1, "satisfaction_rate": 90.0}
    coop = session.scalars(select(Evaluation).where(Evaluation.department_id == "city-scjgj")).one()
    assert coop.facts["role"] == "cooperating" and coop.grade == "excellent"
    # evaluating again replaces the evaluation (one per department per whistle)
    evaluate(department_id="bw-zjj", grade="fair", timeliness="poor", plan="fair", result="good",
             attitude="fair", opinion="复评", ctx=ctx(63))
    session.flush()
    assert session.scalars(select(Evaluation).where(Evaluation.department_id == "bw-zjj")).one().grade == "fair"
    with pytest.raises(ValueError):
        evaluate(department_id="bw-zjj", grade="A+", timeliness="good", plan="good", result="good",
                 attitude="good", opinion=None, ctx=ctx())
    assert evaluate(department_id="x", grade="good", timeliness="good", plan="good", result="good",
                    attitude="good", opinion=None, ctx=make_ctx(session, {})) == {}


def test_r15_standing_mechanism_registered(session, whistle):
    out = get_handler("mechanism.register")(
        document_title="校园周边小饭桌常态化监管办法", document_no="博组〔2026〕12号",
        text="每季度联合检查一次……", lead_department_id="city-scjgj",
        cooperating_department_ids=["city-jyj", "bw-zjj", "city-scjgj"],
        ctx=make_ctx(session, {"whistle_id": whistle.id}))
    row = session.get(StandingMechanism, out["mechanism_id"])
    assert (row.title, row.lead_department_id) == ("校园周边小饭桌常态化监管办法", "city-scjgj")
    assert row.cooperating_department_ids == ["city-jyj", "bw-zjj"]
    assert row.source_whistle_ids == [whistle.id] and row.category == "市场秩序"
    assert whistle.stage == "long_term"
    with pytest.raises(ValueError):
        get_handler("mechanism.register")(document_title=" ", lead_department_id="city-scjgj",
                                          ctx=make_ctx(session, {}))
