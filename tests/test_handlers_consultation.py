"""consultation.open / consultation.close (R7)."""
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from sqlalchemy import select

import handlers  # noqa: F401
from engine.registry import get_handler
from governance.calendar import TZ
from governance.consultations import ConsultationError, record_consultation_answer
from governance.models import Consultation, Notice

from tests.handlerkit import handler_ctx, registered_whistle

NOW = datetime(2026, 9, 30, 10, 0, tzinfo=TZ)   # the eve of National Day


def make_ctx(session, data, now=NOW):
    return handler_ctx(session, data, now=now, actor="zzb-hs")


@pytest.fixture
def whistle(session, monkeypatch):
    return registered_whistle(session, monkeypatch, at=NOW, title="公交站点设置不合理", description="站点离小区太远",
                              category="交通出行", community_id="ys-am-sq1", location="安民路", reporter="王先生",
                              source="patrol", actor="wg-ys-am-sq1")


def _expected_due(opened: date, days: int) -> str:
    day = chinese_calendar.get_workdays(opened + timedelta(days=1), opened + timedelta(days=60))[days - 1]
    return f"{day.isoformat()}T17:30:00+08:00"


def test_r07_consultation_opens_one_request_per_department_with_working_day_deadline(session, whistle):
    out = get_handler("consultation.open")(department_ids=["city-jtj", "city-gjjt"], level="city",
                                           reply_days=3, ctx=make_ctx(session, {"whistle_id": whistle.id}))
    # 3 working days after 2026-09-30 skip the National Day holiday and land on the make-up Saturday
    assert out["consultation_due"] == _expected_due(date(2026, 9, 30), 3) == "2026-10-10T17:30:00+08:00"
    assert out["consult_department_ids"] == ["city-jtj", "city-gjjt"]
    rows = session.scalars(select(Consultation).order_by(Consultation.id)).all()
    assert [r.id for r in rows] == out["consultation_ids"]
    assert {r.department_id for r in rows} == {"city-jtj", "city-gjjt"} and all(r.level == "city" for r in rows)
    notices = session.scalars(select(Notice).where(Notice.kind == "consultation")).all()
    assert {n.unit_id for n in notices} == {"city-jtj", "city-gjjt"}
    assert "市委组织部" in notices[0].text and whistle.whistle_no in notices[0].text
    assert whistle.stage == "consultation"


def test_r07_unanswered_consultation_recorded_as_no_reply(session, whistle):
    open_ = get_handler("consultation.open")
    out = open_(department_ids=["ys-zjj", "ys-cgj", "city-jtj"], level="district",
                ctx=make_ctx(session, {"whistle_id": whistle.id}))
    record_consultation_answer(session, whistle.id, "ys-zjj", "accept")
    data = {"whistle_id": whistle.id, **out,
            "consultation_reply_outputs": [
                {"department_id": "ys-cgj", "answer": "object", "reason": "不属于本单位职能",
                 "suggested_unit_id": "city-jtj"}]}
    result = get_handler("consultation.close")(ctx=make_ctx(session, data, NOW + timedelta(days=12)))
    answers = {a["department_id"]: a for a in result["consultation_answers"]}
    assert answers["ys-zjj"]["answer"] == "accept"
    assert answers["ys-cgj"] == {"department_id": "ys-cgj", "answer": "object",
                                 "reason": "不属于本单位职能", "suggested_unit_id": "city-jtj"}
    assert answers["city-jtj"]["answer"] == "no_reply"
    silent = session.scalars(select(Consultation).where(Consultation.department_id == "city-jtj")).one()
    assert silent.answer == "no_reply" and silent.answered_at is None and silent.closed_at is not None
    with pytest.raises(ConsultationError):          # closed: no late answers
        record_consultation_answer(session, whistle.id, "city-jtj", "accept")


def test_r07_a_new_round_closes_only_its_own_requests(session, whistle):
    open_, close = get_handler("consultation.open"), get_handler("consultation.close")
    first = open_(department_ids="ys-zjj", level="district", ctx=make_ctx(session, {"whistle_id": whistle.id}))
    close(ctx=make_ctx(session, {"whistle_id": whistle.id, **first}))
    second = open_(department_ids=["ys-cgj"], level="district", ctx=make_ctx(session, {"whistle_id": whistle.id}))
    assert set(second["consultation_ids"]).isdisjoint(first["consultation_ids"])
    # outputs as plain answers, matched by index to consult_department_ids
    data = {"whistle_id": whistle.id, **second, "consultation_reply_outputs": ["accept"]}
    result = close(ctx=make_ctx(session, data))
    assert result == {"consultation_answers": [{"department_id": "ys-cgj", "answer": "accept",
                                                "reason": None, "suggested_unit_id": None}]}


def test_r07_objection_needs_reason_or_suggestion(session, whistle):
    get_handler("consultation.open")(department_ids=["ys-zjj"], level="district",
                                     ctx=make_ctx(session, {"whistle_id": whistle.id}))
    with pytest.raises(ConsultationError):
        record_consultation_answer(session, whistle.id, "ys-zjj", "object")
    with pytest.raises(ConsultationError):
        record_consultation_answer(session, whistle.id, "ys-zjj", "maybe")


def test_r07_consultation_without_register_row(session):
    out = get_handler("consultation.open")(department_ids=["a", "b"], level="district", reply_days=2,
                                           ctx=make_ctx(session, {}))
    assert out == {"consultation_due": _expected_due(date(2026, 9, 30), 2),
                   "consult_department_ids": ["a", "b"], "consultation_ids": []}
    data = {**out, "consultation_reply_outputs": {"a": {"answer": "accept"}}}
    result = get_handler("consultation.close")(ctx=make_ctx(session, data))
    assert [(a["department_id"], a["answer"]) for a in result["consultation_answers"]] == [
        ("a", "accept"), ("b", "no_reply")]
    with pytest.raises(ConsultationError):
        get_handler("consultation.open")(department_ids=["a"], level="province", ctx=make_ctx(session, {}))


def test_r07_r19_a_lapsed_round_notifies_the_org_department_once(session, whistle):
    out = get_handler("consultation.open")(department_ids=["ys-zjj", "ys-cgj"], level="district",
                                           ctx=make_ctx(session, {"whistle_id": whistle.id}))
    record_consultation_answer(session, whistle.id, "ys-zjj", "accept")
    lapsed = get_handler("consultation.lapsed")
    later = make_ctx(session, {"whistle_id": whistle.id, **out}, NOW + timedelta(days=12))
    assert lapsed(ctx=later) == {"consultation_lapsed": ["ys-cgj"]}
    assert lapsed(ctx=later) == {"consultation_lapsed": []}            # once per round
    [notice] = session.scalars(select(Notice).where(Notice.kind == "consultation_lapsed")).all()
    assert notice.unit_id == "ys" and "征求意见逾期" in notice.text
    # without a register row (a joint matter's dispatch): the org department named in the data
    data = {"consult_department_ids": ["ys-zjj", "ys-cgj"], "consultation_replies": {"0": "accept"},
            "org_unit_id": "ys", "consultation_due": out["consultation_due"]}
    assert lapsed(ctx=make_ctx(session, data, NOW + timedelta(days=12))) == {"consultation_lapsed": ["ys-cgj"]}


def test_r07_the_reply_window_is_a_policy_setting(session, whistle):
    from governance import policy_settings
    policy_settings.save(session, {"consultation_reply_days": "5"}, actor="policy", at=NOW)
    out = get_handler("consultation.open")(department_ids=["ys-zjj"], level="district",
                                           ctx=make_ctx(session, {"whistle_id": whistle.id}))
    assert out["consultation_due"] == _expected_due(date(2026, 9, 30), 5)
