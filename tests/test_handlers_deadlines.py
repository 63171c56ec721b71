"""deadline.next_joint_meeting (R3) and deadline.extend (R11)."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import handlers  # noqa: F401
from engine.registry import get_handler
from governance import register
from governance.calendar import TZ, iso
from governance.models import Extension, Notice

from tests.handlerkit import handler_ctx, registered_whistle

NOW = datetime(2026, 9, 30, 10, 0, tzinfo=TZ)


def make_ctx(session, data, now=NOW):
    return handler_ctx(session, data, now=now, actor="tester")


@pytest.fixture
def whistle(session, monkeypatch):
    return registered_whistle(session, monkeypatch, at=NOW, title="背街小巷环境脏乱", description="垃圾堆放",
                              category="市容环境", community_id="hs-jfl-sq1", location="九华路", reporter="李阿姨",
                              source="platform", actor="resident")


def test_r03_next_joint_meeting_handler(session, whistle):
    out = get_handler("deadline.next_joint_meeting")(community_id="hs-jfl-sq1",
                                                     ctx=make_ctx(session, {"whistle_id": whistle.id}))
    assert out == {"joint_meeting_at": "2026-10-15T09:00:00+08:00"}
    assert whistle.stage == "waiting_joint_meeting"
    assert "2026-10-15" in register.public_timeline(session, whistle)[-1]["reply"]


def test_r03_next_joint_meeting_without_register_row(session):
    out = get_handler("deadline.next_joint_meeting")(community_id="any", ctx=make_ctx(session, {}))
    assert out == {"joint_meeting_at": "2026-10-15T09:00:00+08:00"}


def test_r11_extension_moves_completion_deadline(session, whistle):
    get_handler("dispatch.issue_order")(level="district", lead_department_id="hs-cgj",
                                        cooperating_department_ids=[], completion_period="P1M",
                                        ctx=make_ctx(session, {"whistle_id": whistle.id}))
    # R10: the deadline is the quarter at the end of the working day; P1M is only the target
    assert iso(whistle.complete_due) == "2026-12-30T17:30:00+08:00"
    assert iso(whistle.target_due) == "2026-10-30T17:30:00+08:00"
    extend = get_handler("deadline.extend")
    later = NOW + timedelta(days=85)
    out = extend(requested_due="2027-01-15", extension_reason="需协调多个产权单位",
                 ctx=make_ctx(session, {"whistle_id": whistle.id}, later))
    assert out == {"complete_due": "2027-01-15T17:30:00+08:00", "extension_count": 1}
    assert iso(whistle.complete_due) == out["complete_due"] and whistle.extension_count == 1
    row = session.scalars(select(Extension)).one()
    assert iso(row.old_due) == "2026-12-30T17:30:00+08:00" and row.reason == "需协调多个产权单位"
    assert row.agreed_by_community and row.approved
    assert register.current_order(session, whistle).complete_due == whistle.complete_due
    kinds = {(n.unit_id, n.kind) for n in session.scalars(select(Notice).where(Notice.kind == "extension"))}
    assert kinds == {("hs-jfl-sq1", "extension"), ("hs-cgj", "extension")}
    out = extend(requested_due="2027-02-15T12:00:00+08:00", ctx=make_ctx(session, {"whistle_id": whistle.id}, later))
    assert out["extension_count"] == 2
    with pytest.raises(ValueError):      # not later than the current deadline
        extend(requested_due="2027-01-20", ctx=make_ctx(session, {"whistle_id": whistle.id}, later))


def test_r11_extension_without_register_row(session):
    out = get_handler("deadline.extend")(requested_due="2026-12-31T17:00:00+08:00",
                                         ctx=make_ctx(session, {"complete_due": "2026-12-01T10:00:00+08:00",
                                                                "extension_count": 1}))
    assert out == {"complete_due": "2026-12-31T17:00:00+08:00", "extension_count": 2}


def test_r19_step_deadline_in_working_days_from_the_settings(session, whistle):
    step = get_handler("deadline.step")
    # Wednesday 30 September + 1 working day skips the National Day holiday (1–7 October)
    assert step(step="triage", ctx=make_ctx(session, {"whistle_id": whistle.id})) == \
        {"triage_due": "2026-10-08T17:30:00+08:00"}
    assert step(step="confirm_dispatch", ctx=make_ctx(session, {})) == \
        {"confirm_dispatch_due": "2026-10-09T17:30:00+08:00"}
    assert step(step="propose", ctx=make_ctx(session, {})) == \
        {"propose_due": "2026-10-10T17:30:00+08:00"}              # the make-up Saturday counts
    with pytest.raises(ValueError):
        step(step="evaluate_department", ctx=make_ctx(session, {}))


def test_r19_missed_step_flagged_and_notified_once(session, whistle):
    overdue = get_handler("deadline.step_overdue")
    data = {"whistle_id": whistle.id, "street_review_due": "2026-10-09T17:30:00+08:00"}
    early = make_ctx(session, data, datetime(2026, 10, 9, 17, 0, tzinfo=TZ))
    overdue(step="street_review", ctx=early)
    assert session.scalars(select(Notice).where(Notice.kind == "step_overdue")).all() == []   # a stale timer
    late = make_ctx(session, data, datetime(2026, 10, 9, 17, 31, tzinfo=TZ))
    assert overdue(step="street_review", ctx=late) == {"street_review_overdue": True}
    overdue(step="street_review", ctx=late)
    notices = session.scalars(select(Notice).where(Notice.kind == "step_overdue").order_by(Notice.unit_id)).all()
    assert [n.unit_id for n in notices] == ["hs", "hs-jfl"]           # the street and its district's org department
    assert "街道审核逾期" in notices[0].text and "2026-10-09 17:30" in notices[0].text
