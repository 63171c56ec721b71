"""R8–R11, R15 on the real diagrams: the department reports for duty within a week with a named
leader, contact and work plan; report and completion deadlines are flagged once; extensions need
the community and the same-level org department; long-term matters become standing mechanisms."""
from datetime import timedelta

import pytest

from engine.errors import FormInvalid
from engine.models import AuditEvent
from governance.models import Extension, StandingMechanism, TaskOrder
from tests.deadline_kit import quarter_after, week_after
from tests.procedure_kit import REPORT, local, world  # noqa: F401  (fixture)


def test_r09_report_for_duty_requires_leader_contact_phones_and_plan(world):
    dispatched = local(2026, 11, 9, 10)
    w = world.report("河道垃圾清理", at=dispatched - timedelta(days=5), community_id="bw-dy-sq1")
    world.to_handling(w, dispatched, lead="bw-cgj")
    before = world.instance(w)
    events_before = len(world.events(w))
    with pytest.raises(FormInvalid) as refused:
        world.act("bm-bw-cgj", "report_for_duty", {"visited_on": "2026-11-10", "work_plan": "清理河道"},
                  w, at=local(2026, 11, 10, 10))
    assert {e.field for e in refused.value.errors} == {"leader_name", "leader_phone", "contact_name", "contact_phone"}
    with pytest.raises(FormInvalid) as refused:
        world.act("bm-bw-cgj", "report_for_duty", {**REPORT, "visited_on": "2026-11-10", "leader_phone": "12345",
                                                   "work_plan": ""}, w, at=local(2026, 11, 10, 10))
    assert {e.field for e in refused.value.errors} == {"leader_phone", "work_plan"}
    # nothing changed: same state version, same task, no register event, not reported
    after = world.instance(w)
    assert after.lock_version == before.lock_version and after.state == before.state
    assert ("report_for_duty", "department", "bw-cgj") in world.ready(w)
    assert len(world.events(w)) == events_before and world.whistle(w).reported_at is None

    world.report_for_duty(w, local(2026, 11, 10, 10), dept="bw-cgj")
    row = world.whistle(w)
    assert row.stage == "reported" and row.reported_at == local(2026, 11, 10, 10)
    [event] = [e for e in world.events(w) if e.stage == "reported" and e.kind == "stage"]
    for value in (REPORT["leader_name"], REPORT["leader_phone"], REPORT["contact_name"], REPORT["contact_phone"]):
        assert value in event.text


def test_r08_report_in_time_raises_no_flag(world):
    dispatched = local(2026, 11, 9, 10)
    w = world.report("路灯损坏", at=dispatched - timedelta(days=5), community_id="bw-dy-sq2", category="明灯")
    world.to_handling(w, dispatched, lead="bw-cgj")
    world.report_for_duty(w, dispatched + timedelta(days=6, hours=23), dept="bw-cgj")
    world.fire(dispatched + timedelta(days=8))
    [order] = world.rows(TaskOrder, w)
    assert order.reported_at == dispatched + timedelta(days=6, hours=23) and not order.report_overdue
    assert not world.whistle(w).report_overdue and world.notices(w, "report_overdue") == []


def test_r08_r10_missed_deadlines_are_flagged_and_notified_exactly_once(world):
    dispatched = local(2026, 11, 30, 10)
    w = world.report("主干道积水", at=dispatched - timedelta(days=5), community_id="hs-jfl-sq1")
    world.to_handling(w, dispatched, lead="hs-cgj", urgency=3, complexity=1)        # high → P1M: a target only
    report_due = week_after(dispatched)
    complete_due = quarter_after(dispatched)                                         # R10: the quarter
    assert complete_due == local(2027, 3, 1, 17, 30)                                 # 28 Feb 2027 is a Sunday

    world.fire(report_due - timedelta(minutes=1))
    assert not world.whistle(w).report_overdue and world.notices(w, "report_overdue") == []
    world.fire(report_due + timedelta(minutes=1))
    world.fire(report_due + timedelta(minutes=2))        # a second sweep, and a late one
    world.fire(report_due + timedelta(days=3))
    row = world.whistle(w)
    assert row.report_overdue and not row.complete_overdue
    notices = world.notices(w, "report_overdue")
    assert sorted(n.unit_id for n in notices) == ["hs", "hs-jfl-sq1"]         # org department + community, once
    assert ("report_for_duty", "department", "hs-cgj") in world.ready(w)     # the task stays (non-interrupting)

    # the department still has not reported when the quarter's deadline passes (R10 runs from dispatch)
    world.fire(complete_due + timedelta(minutes=1))
    world.fire(complete_due + timedelta(days=2))
    row = world.whistle(w)
    assert row.complete_overdue
    assert sorted(n.unit_id for n in world.notices(w, "complete_overdue")) == ["hs", "hs-jfl-sq1"]
    [order] = world.rows(TaskOrder, w)
    assert order.report_overdue and order.complete_overdue

    # reporting late and then reaching complete_matter after the deadline notifies nobody again
    world.report_for_duty(w, complete_due + timedelta(days=3))
    assert world.ready(w) == [("complete_matter", "department", "hs-cgj")]
    world.fire(complete_due + timedelta(days=3, minutes=1))
    assert len(world.notices(w, "complete_overdue")) == 2 and len(world.notices(w, "report_overdue")) == 2


def _to_complete_matter(world, w, dispatched, **kw):
    world.to_handling(w, dispatched, **kw)
    world.report_for_duty(w, dispatched + timedelta(days=2), dept=kw.get("lead", "hs-cgj"))


def test_r11_agreed_and_approved_extension_moves_the_deadline_and_rearms_the_timer(world):
    dispatched = local(2026, 9, 7, 10)
    w = world.report("老旧管网改造", at=dispatched - timedelta(days=5), community_id="hs-hdl-sq1")
    _to_complete_matter(world, w, dispatched, lead="hs-zjj", urgency=3, complexity=3)   # high → P2M (target)
    old_due = quarter_after(dispatched)
    assert world.timers(w) == [("complete_due_timer", old_due)]
    world.complete_matter(w, local(2026, 10, 20, 10), dept="hs-zjj", outcome="request_extension",
                          result="管网施工需冬季停水窗口", reply="施工需延期，已申请。",
                          requested_due="2026-12-20", extension_reason="涉及面广，需停水施工")
    assert world.ready(w) == [("extension_agree", "community", "hs-hdl-sq1")]
    world.act("sq-hs-hdl-sq1", "extension_agree", {"decision": "agree"}, w, at=local(2026, 10, 21, 10))
    # the org department of the same level (the order is a district one) approves
    assert world.ready(w) == [("extension_approve", "district_org", "hs")]
    assert world.inbox("zzb-mas", w) == []
    world.act("zzb-hs", "extension_approve", {"decision": "approve"}, w, at=local(2026, 10, 22, 10))

    new_due = local(2026, 12, 20, 17, 30)                # a date means the end of that day (17:30)
    row = world.whistle(w)
    assert row.complete_due == new_due and row.extension_count == 1
    [order] = world.rows(TaskOrder, w)
    assert order.complete_due == new_due
    [ext] = world.rows(Extension, w)
    assert (ext.old_due, ext.new_due, ext.reason) == (old_due, new_due, "涉及面广，需停水施工")
    assert world.ready(w) == [("complete_matter", "department", "hs-zjj")]
    assert world.timers(w) == [("complete_due_timer", new_due)]        # re-armed from the new date

    world.fire(old_due + timedelta(minutes=1))           # the old deadline passes: no flag
    assert not world.whistle(w).complete_overdue and world.notices(w, "complete_overdue") == []
    world.fire(new_due + timedelta(minutes=1))           # the new one flags
    assert world.whistle(w).complete_overdue
    assert sorted(n.unit_id for n in world.notices(w, "complete_overdue")) == ["hs", "hs-hdl-sq1"]


def test_r11_refused_extension_does_not_move_the_deadline(world):
    dispatched = local(2026, 9, 7, 10)
    w = world.report("小区停车难", at=dispatched - timedelta(days=5), community_id="hs-hdl-sq2")
    _to_complete_matter(world, w, dispatched, lead="hs-cgj", urgency=2, complexity=2)
    due = quarter_after(dispatched)
    world.complete_matter(w, local(2026, 10, 20, 10), outcome="request_extension", result="需规划车位",
                          reply="已申请延期。", requested_due="2026-12-31", extension_reason="需规划")
    world.act("sq-hs-hdl-sq2", "extension_agree", {"decision": "refuse", "note": "居民急需解决"}, w,
              at=local(2026, 10, 21, 10))
    assert world.ready(w) == [("complete_matter", "department", "hs-cgj")]
    row = world.whistle(w)
    assert row.complete_due == due and row.extension_count == 0 and world.rows(Extension, w) == []
    assert world.timers(w) == [("complete_due_timer", due)]

    # agreed by the community but refused by the org department: still unchanged
    world.complete_matter(w, local(2026, 10, 23, 10), outcome="request_extension", result="需规划车位",
                          reply="再次申请延期。", requested_due="2026-12-31", extension_reason="需规划")
    world.act("sq-hs-hdl-sq2", "extension_agree", {"decision": "agree"}, w, at=local(2026, 10, 24, 10))
    world.act("zzb-hs", "extension_approve", {"decision": "refuse", "note": "一个季度内可以完成"}, w,
              at=local(2026, 10, 26, 10))
    assert world.whistle(w).complete_due == due and world.rows(Extension, w) == []
    assert world.ready(w) == [("complete_matter", "department", "hs-cgj")]


def test_r15_long_term_matter_becomes_a_standing_mechanism(world):
    dispatched = local(2026, 11, 9, 10)
    w = world.report("校园周边小饭桌常态化监管", at=dispatched - timedelta(days=5), community_id="ys-am-sq1")
    world.to_complete_matter(w, dispatched, lead="ys-mzj", cooperating=["ys-cgj"])
    world.complete_matter(w, local(2026, 12, 1, 10), dept="ys-mzj", outcome="long_term", result="需常态化监管",
                          reply="将形成长效机制常态化监管。")
    assert world.ready(w) == [("long_term_mechanism", "district_org", "ys")]
    world.act("zzb-ys", "long_term_mechanism",
              {"document_title": "校园周边小饭桌常态化监管办法", "document_no": "雨组〔2026〕8号",
               "lead_department_id": "ys-mzj", "cooperating_department_ids": ["ys-cgj", "ys-zjj"],
               "text": "每季度联合检查一次"}, w, at=local(2026, 12, 3, 10))
    [mech] = [m for m in world.rows(StandingMechanism) if w.id in (m.source_whistle_ids or [])]
    assert (mech.title, mech.document_no, mech.text) == ("校园周边小饭桌常态化监管办法", "雨组〔2026〕8号", "每季度联合检查一次")
    assert (mech.lead_department_id, mech.cooperating_department_ids) == ("ys-mzj", ["ys-cgj", "ys-zjj"])
    # the whistle goes on to the community's survey and evaluation
    assert world.ready(w) == [("satisfaction_survey", "community", "ys-am-sq1")]
    assert any("长效机制" in (e.reply or "") for e in world.events(w))
    assert world.instance(w).status == "running"
    trail = world.rows(AuditEvent, None, AuditEvent.instance_id == world.whistle(w).instance_id)
    assert not [a for a in trail if a.action == "incident"]


def test_r11_extension_is_approved_by_the_org_department_of_the_dispatching_level(world):
    ask = {"outcome": "request_extension", "result": "需跨部门施工", "reply": "已申请延期。",
           "requested_due": "2027-03-31", "extension_reason": "涉及面广"}
    # dispatched at district level: the district's org department approves, not the city's
    dispatched = local(2026, 9, 7, 10)
    w = world.report("跨河步行桥维修", at=dispatched - timedelta(days=5), community_id="ys-ys-sq1")
    _to_complete_matter(world, w, dispatched, lead="ys-zjj")
    world.complete_matter(w, local(2026, 10, 20, 10), dept="ys-zjj", **ask)
    world.act("sq-ys-ys-sq1", "extension_agree", {"decision": "agree"}, w, at=local(2026, 10, 21, 10))
    assert world.ready(w) == [("extension_approve", "district_org", "ys")]
    assert world.inbox("zzb-mas", w) == [] and world.inbox("zzb-hs", w) == []
    assert [i.task for i in world.inbox("zzb-ys", w)] == ["extension_approve"]

    # the district could not solve it: after the district meeting the city dispatches (R6), and the
    # city's org department approves the city order's extension, not the district's
    w = world.report("跨区公交线路调整", at=dispatched - timedelta(days=5), community_id="ys-ys-sq2")
    _to_complete_matter(world, w, dispatched, lead="ys-zjj")
    world.complete_matter(w, local(2026, 9, 30, 10), dept="ys-zjj", outcome="cannot_solve",
                          result="需市级统筹", reply="已提请上报市级。")
    world.act("zzb-ys", "district_meeting", {"meeting_date": "2026-10-09", "decision": "escalate", "minutes": "上报"},
              w, at=local(2026, 10, 9, 10))
    world.dispatch(w, local(2026, 10, 12, 10), lead="city-zjj", org="zzb-mas")
    world.report_for_duty(w, local(2026, 10, 13, 10), dept="city-zjj")
    world.complete_matter(w, local(2026, 11, 20, 10), dept="city-zjj", **ask)
    world.act("sq-ys-ys-sq2", "extension_agree", {"decision": "agree"}, w, at=local(2026, 11, 21, 10))
    assert world.ready(w) == [("extension_approve", "city_org", "mas")]
    assert world.inbox("zzb-ys", w) == []
    world.act("zzb-mas", "extension_approve", {"decision": "approve"}, w, at=local(2026, 11, 22, 10))
    from governance.calendar import to_local
    assert to_local(world.whistle(w).complete_due).date().isoformat() == "2027-03-31"
