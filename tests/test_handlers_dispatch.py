"""dispatch.issue_order (R5, R8, R10, R13), escalation.overdue (R8, R10), case.* (R19)."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

import handlers  # noqa: F401
from engine.registry import get_handler
from governance import register
from governance.calendar import TZ, iso
from governance.models import Notice, TaskOrder

from tests.handlerkit import handler_ctx, registered_whistle

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)


def make_ctx(session, data, now=NOW):
    return handler_ctx(session, data, now=now, actor="zzb-hs")


@pytest.fixture
def whistle(session, monkeypatch):
    return registered_whistle(session, monkeypatch, at=NOW - timedelta(days=20), title="小区路灯损坏",
                              description="多盏路灯不亮", category="明灯", community_id="hs-hdl-sq2", location="新风小区",
                              reporter="网格员巡查", source="patrol", actor="wg-hs-hdl-sq2")


def issue(session, whistle, **kw):
    args = dict(level="district", lead_department_id="hs-cgj", cooperating_department_ids=["city-gdgs"],
                completion_period="P3M")
    args.update(kw)
    return get_handler("dispatch.issue_order")(**args, ctx=make_ctx(session, {"whistle_id": whistle.id}))


def test_r08_report_due_is_seven_days_after_order_at_the_end_of_the_day(session, whistle):
    out = issue(session, whistle)
    assert out["dispatched_at"] == "2026-11-30T10:00:00+08:00"
    assert out["report_due"] == "2026-12-07T17:30:00+08:00"
    assert iso(whistle.report_due) == out["report_due"]


def test_r10_complete_due_is_the_quarter_the_period_only_a_target(session, whistle):
    out = issue(session, whistle)
    assert out["complete_due"] == "2027-03-01T17:30:00+08:00"     # 28 Feb 2027 is a Sunday
    assert out["target_due"] is None and whistle.target_due is None
    out = issue(session, whistle, completion_period="P1M")
    assert out["complete_due"] == "2027-03-01T17:30:00+08:00"
    assert out["target_due"] == "2026-12-30T17:30:00+08:00" == iso(whistle.target_due)
    assert iso(register.current_order(session, whistle).target_due) == out["target_due"]
    with pytest.raises(ValueError):
        issue(session, whistle, completion_period="P4M")


def test_r05_r13_task_order_names_lead_and_cooperating_departments(session, whistle):
    out = issue(session, whistle, cooperating_department_ids=["city-gdgs", "hs-cgj", "city-gdgs"])
    assert out["task_order_no"] == "RWD-HS-2026-0001"
    assert out["involved_department_ids"] == ["hs-cgj", "city-gdgs"]
    assert out["cooperating_department_ids"] == ["city-gdgs"]
    order = session.scalars(select(TaskOrder)).one()
    assert (order.whistle_id, order.level, order.lead_department_id) == (whistle.id, "district", "hs-cgj")
    assert (whistle.task_order_no, whistle.level, whistle.stage) == (order.order_no, "district", "handling")
    assert whistle.cooperating_department_ids == ["city-gdgs"]
    texts = {n.unit_id: n.text for n in session.scalars(select(Notice).where(Notice.kind == "task_order"))}
    assert set(texts) == {"hs-cgj", "city-gdgs"}
    assert "牵头" in texts["hs-cgj"] and "配合" in texts["city-gdgs"]
    assert "花山区城市管理局" in register.public_timeline(session, whistle)[-1]["reply"]


def test_r06_city_order_is_numbered_by_the_city(session, whistle):
    issue(session, whistle)
    out = issue(session, whistle, level="city", lead_department_id="city-cgj", cooperating_department_ids=None)
    assert out["task_order_no"] == "RWD-MAS-2026-0001"
    assert whistle.level == "city" and whistle.lead_department_id == "city-cgj"


def test_dispatch_refuses_unknown_departments_and_levels(session, whistle):
    with pytest.raises(ValueError):
        issue(session, whistle, lead_department_id="hs-jfl")          # a street
    with pytest.raises(ValueError):
        issue(session, whistle, level="province")


def test_dispatch_without_register_row(session):
    out = get_handler("dispatch.issue_order")(level="district", lead_department_id="x",
                                              cooperating_department_ids=["y"], completion_period="P2M",
                                              ctx=make_ctx(session, {"district_id": "ys"}))
    assert out["task_order_no"] == "RWD-YS-2026-0001"
    assert out["complete_due"] == "2027-03-01T17:30:00+08:00"
    assert out["target_due"] == "2027-02-01T17:30:00+08:00"      # 30 Jan 2027 is a Saturday
    assert out["involved_department_ids"] == ["x", "y"]


def _notices(session, kind):
    return session.scalars(select(Notice).where(Notice.kind == kind).order_by(Notice.unit_id)).all()


def test_r08_report_overdue_flagged_escalated_once(session, whistle):
    issue(session, whistle)
    overdue = get_handler("escalation.overdue")
    late = datetime(2026, 12, 7, 17, 31, tzinfo=TZ)
    assert overdue(kind="report", ctx=make_ctx(session, {"whistle_id": whistle.id}, late - timedelta(hours=8))) \
        == {"report_overdue": False}                                  # the morning of the 7th day: not yet
    assert overdue(kind="report", ctx=make_ctx(session, {"whistle_id": whistle.id}, late)) == {"report_overdue": True}
    assert overdue(kind="report", ctx=make_ctx(session, {"whistle_id": whistle.id}, late)) == {"report_overdue": True}
    assert whistle.report_overdue and register.current_order(session, whistle).report_overdue
    notices = _notices(session, "report_overdue")
    assert [n.unit_id for n in notices] == ["hs", "hs-hdl-sq2"]       # district org + community, once
    assert "2026-12-07" in notices[0].text and "花山区城市管理局" in notices[0].text


def test_r10_complete_overdue_at_city_level_notifies_city_org(session, whistle):
    issue(session, whistle, level="city", lead_department_id="city-cgj", cooperating_department_ids=[])
    overdue = get_handler("escalation.overdue")
    out = overdue(kind="complete", ctx=make_ctx(session, {"whistle_id": whistle.id}, NOW + timedelta(days=100)))
    assert out == {"complete_overdue": True} and whistle.complete_overdue
    assert [n.unit_id for n in _notices(session, "complete_overdue")] == ["hs-hdl-sq2", "mas"]
    with pytest.raises(ValueError):
        overdue(kind="late", ctx=make_ctx(session, {"whistle_id": whistle.id}))
    assert overdue(kind="report", ctx=make_ctx(session, {})) == {"report_overdue": True}


def test_r19_case_update_records_stage_and_reply(session, whistle):
    update = get_handler("case.update")
    ctx = make_ctx(session, {"whistle_id": whistle.id})
    assert update(stage="street", ctx=ctx) == {}
    assert update(stage="street_review", reply="街道已受理，正在审核", ctx=ctx) == {}
    assert whistle.stage == "street_review"
    replies = [e["reply"] for e in register.public_timeline(session, whistle)]
    assert replies[-2:] == [register.STAGE_REPLIES["street"], "街道已受理，正在审核"]
    with pytest.raises(ValueError):
        update(stage="DROP TABLE", ctx=ctx)


def test_case_update_stamps_report_and_completion(session, whistle):
    issue(session, whistle)
    update = get_handler("case.update")
    update(stage="reported", ctx=make_ctx(session, {"whistle_id": whistle.id}, NOW + timedelta(days=3)))
    update(stage="survey", ctx=make_ctx(session, {"whistle_id": whistle.id}, NOW + timedelta(days=40)))
    order = register.current_order(session, whistle)
    assert iso(order.reported_at) == "2026-12-03T10:00:00+08:00" == iso(whistle.reported_at)
    assert iso(order.completed_at) == "2027-01-09T10:00:00+08:00"


def test_case_set_and_close(session, whistle):
    ctx = make_ctx(session, {"whistle_id": whistle.id})
    assert get_handler("case.set")(level="city", priority="high", note="x", ctx=ctx) == {
        "level": "city", "priority": "high", "note": "x"}
    assert (whistle.level, whistle.priority) == ("city", "high")
    with pytest.raises(ValueError):
        get_handler("case.set")(level="province", ctx=ctx)
    out = get_handler("case.close")(ctx=ctx)
    assert out == {"closed_at": "2026-11-30T10:00:00+08:00"}
    assert whistle.stage == "closed" and iso(whistle.closed_at) == out["closed_at"]
    assert get_handler("case.close")(ctx=make_ctx(session, {})) == {"closed_at": "2026-11-30T10:00:00+08:00"}
    assert session.scalar(select(func.count(TaskOrder.id))) == 0
