"""R1–R3 on the real diagrams: a whistle is reported, the community triages it, daily matters are
solved locally or by the street, hard issues wait for the quarterly joint meeting."""
from datetime import date, datetime, time, timedelta

import chinese_calendar

from engine.clock import frozen_at
from engine.db import write_session
from governance import workspace
from governance.calendar import TZ
from tests.procedure_kit import local, world  # noqa: F401  (fixture)


def test_r01_r02_patrol_report_resolved_locally_by_the_community(world):
    at = local(2026, 11, 2, 9, 30)
    w = world.report("楼道堆放杂物", at=at, community_id="hs-jfl-sq1", source="patrol", category="安全")
    # R1: the register row exists, addressed to the community, with street and district derived
    row = world.whistle(w)
    assert (row.source, row.community_id, row.street_id, row.district_id) == ("patrol", "hs-jfl-sq1", "hs-jfl", "hs")
    assert row.stage == "triage" and row.instance_id is not None
    assert world.ready(w) == [("triage", "community", "hs-jfl-sq1")]

    world.act("sq-hs-jfl-sq1", "triage", {"route": "local", "reply": "社区已安排清理。"}, w, at=at + timedelta(hours=1))
    assert world.ready(w) == [("resolve_locally", "community", "hs-jfl-sq1")]
    world.act("sq-hs-jfl-sq1", "resolve_locally",
              {"resolved_on": "2026-11-03", "result": "已清理楼道", "reply": "楼道杂物已清理完毕。"},
              w, at=local(2026, 11, 3, 16))

    row = world.whistle(w)
    assert world.instance(w).status == "completed"
    assert row.stage == "closed" and row.closed_at == local(2026, 11, 3, 16)
    assert row.task_order_no is None and row.level is None          # no department was involved
    replies = [e.reply for e in world.events(w) if e.reply]
    assert "社区已安排清理。" in replies and "楼道杂物已清理完毕。" in replies   # R19


def test_r01_platform_report_reaches_the_community_of_its_address(world):
    w = world.report("广场舞噪音扰民", at=local(2026, 11, 2, 20), community_id="ys-am-sq2", source="platform",
                     reporter="居民张女士")
    assert world.whistle(w).source == "platform"
    assert world.ready(w) == [("triage", "community", "ys-am-sq2")]
    assert [i.task for i in world.inbox("sq-ys-am-sq2", w)] == ["triage"]


def test_r02_daily_matter_coordinated_by_the_street(world):
    at = local(2026, 11, 4, 10)
    w = world.report("小区门口井盖松动", at=at, community_id="hs-jfl-sq2")
    world.act("sq-hs-jfl-sq2", "triage", {"route": "street", "reply": "已上报街道协调。"}, w, at=at + timedelta(hours=2))
    assert world.ready(w) == [("street_coordinate", "street", "hs-jfl")]
    assert world.whistle(w).stage == "street"  # the register follows the procedure (R19 replies per stage)
    assert "您反映的问题已上报街道协调解决。" in [e.reply for e in world.events(w)]
    world.act("jd-hs-jfl", "street_coordinate",
              {"outcome": "resolved", "result": "协调物业更换井盖", "reply": "街道已协调物业更换井盖。"},
              w, at=local(2026, 11, 5, 15))
    row = world.whistle(w)
    assert world.instance(w).status == "completed" and world.ready(w) == []
    assert row.stage == "closed" and row.closed_at == local(2026, 11, 5, 15)
    assert "街道已协调物业更换井盖。" in [e.reply for e in world.events(w)]


def _workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:     # a year the holiday tables do not cover yet: Monday–Friday
        return day.weekday() < 5


def _next_quarter_meeting(after: datetime) -> datetime:
    """Independent R3 calendar: the 15th of the next quarter's first month at 09:00 local,
    moved forward to a working day."""
    local_after = after.astimezone(TZ)
    first_month = ((local_after.month - 1) // 3 + 1) * 3 + 1
    year = local_after.year + (1 if first_month > 12 else 0)
    day = date(year, (first_month - 1) % 12 + 1, 15)
    this_quarter = date(local_after.year, ((local_after.month - 1) // 3) * 3 + 1, 15)
    if datetime.combine(this_quarter, time(9), tzinfo=TZ) > local_after:
        day = this_quarter
    while not _workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(9), tzinfo=TZ)


def test_r03_hard_issues_wait_for_the_quarterly_joint_meeting_and_go_to_the_street_together(world):
    community = "hs-hdl-sq1"
    reported = [local(2026, 8, 3, 10), local(2026, 8, 20, 15), local(2026, 9, 28, 9)]
    ws = [world.report(title, at=at, community_id=community, category=cat)
          for title, at, cat in zip(("主干道占道经营", "公交站点设置不合理", "背街小巷环境脏乱"), reported,
                                    ("市容环境", "交通出行", "市容环境"))]
    for w, at in zip(ws, reported):
        world.act(f"sq-{community}", "triage", {"route": "hard", "reply": "已列为重难点问题。"}, w,
                  at=at + timedelta(hours=1))
    meeting = _next_quarter_meeting(reported[-1])
    assert meeting == local(2026, 10, 15, 9)
    for w in ws:
        # the timer waits for the meeting computed by deadline.next_joint_meeting
        assert world.timers(w) == [("wait_meeting", meeting)]
        assert world.whistle(w).stage == "waiting_joint_meeting"
        assert world.ready(w) == []
        assert any(e.kind == "joint_meeting_scheduled" and "2026-10-15" in e.reply for e in world.events(w))

    world.fire(meeting - timedelta(minutes=1))           # nothing happens before the meeting
    assert all(world.ready(w) == [] for w in ws)
    world.fire(meeting + timedelta(minutes=1))
    assert all(world.ready(w) == [("joint_meeting", "community", community)] for w in ws)
    assert all(world.timers(w) == [] for w in ws)

    # the community records ONE meeting for all its waiting hard issues (R3)
    officer = world.officer(f"sq-{community}")
    mine = {w.id for w in ws}
    with world.factory() as session:
        items = [i for i in workspace.joint_meeting_tasks(session, officer) if i.whistle_id in mine]
    assert sorted(i.whistle_id for i in items) == sorted(mine)
    with write_session(world.factory) as session, frozen_at(meeting + timedelta(hours=3)):
        done = workspace.record_joint_meeting(session, officer, [i.id for i in items],
                                              {"meeting_date": "2026-10-15", "decision": "to_street",
                                               "minutes": "三件事项均报街道审核", "reply": "联席会议已研究，报街道审核。"})
    assert len(done) == 3
    for w in ws:
        assert world.ready(w) == [("street_review", "street", "hs-hdl")]
        assert "联席会议已研究，报街道审核。" in [e.reply for e in world.events(w)]
    assert {i.whistle_id for i in world.inbox("jd-hs-hdl") if i.task == "street_review"} >= mine


def test_r03_joint_meeting_may_close_a_hard_issue(world):
    at = local(2026, 11, 16, 10)
    w = world.report("老旧小区加装电梯", at=at, community_id="bw-bw-sq1", category="需求")
    world.act("sq-bw-bw-sq1", "triage", {"route": "hard", "reply": "提交联席会议研究。"}, w, at=at)
    [(task, due)] = world.timers(w)
    assert task == "wait_meeting" and due == _next_quarter_meeting(at)
    world.fire(due + timedelta(seconds=1))
    world.act("sq-bw-bw-sq1", "joint_meeting", {"meeting_date": due.date().isoformat(), "decision": "close",
                                               "minutes": "已纳入旧改计划"}, w, at=due + timedelta(hours=2))
    assert world.instance(w).status == "completed" and world.whistle(w).stage == "closed"
