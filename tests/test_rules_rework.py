"""R12/R16 rework, on the real diagrams: a satisfaction survey below the threshold (60%) sends
the whistle back to the same lead department's handling once (counted, with a reply to
residents); the next survey goes on to the evaluation. A survey at the threshold goes straight on."""
from datetime import timedelta

from governance.models import Survey, WhistleEvent
from tests.deadline_kit import week_after
from tests.procedure_kit import local, world  # noqa: F401  (fixture)


def _handled(world, title, dispatched, community_id):
    w = world.report(title, at=dispatched - timedelta(days=4), community_id=community_id, category="市容环境")
    world.to_handling(w, dispatched, lead="hs-cgj")
    world.report_for_duty(w, dispatched + timedelta(days=2))
    world.complete_matter(w, dispatched + timedelta(days=10))
    return w


def test_r12_a_survey_below_the_threshold_sends_the_whistle_back_to_the_lead_department(world):
    dispatched = local(2026, 11, 9, 10)
    w = _handled(world, "小区垃圾清运不及时", dispatched, "hs-jfl-sq1")
    order_no, complete_due = world.whistle(w).task_order_no, world.whistle(w).complete_due

    surveyed = dispatched + timedelta(days=12)
    world.survey(w, surveyed, respondents=10, satisfied=2, basically=3, dissatisfied=5)   # 50.0%
    assert world.whistle(w).satisfaction_rate == 50.0
    # back to the lead department's handling: it reports for duty again, nothing to evaluate yet
    assert world.ready(w) == [("report_for_duty", "department", "hs-cgj")]
    row = world.whistle(w)
    assert row.stage == "rework" and row.task_order_no == order_no and row.complete_due == complete_due
    # a fresh report window (7 days, as the order's first), the completion deadline unchanged
    assert row.report_due == week_after(surveyed)
    assert world.data(w)["rework_count"] == 1
    [rework] = world.rows(WhistleEvent, w, WhistleEvent.kind == "rework")
    assert rework.stage == "rework" and rework.reply == "根据测评意见，事项重新办理。"
    assert "50.0%" in rework.text and "60.0%" in rework.text
    # the old report deadline does not flag the rework as overdue
    world.fire(surveyed + timedelta(hours=1))
    assert not world.whistle(w).report_overdue

    world.report_for_duty(w, surveyed + timedelta(days=1))
    assert world.ready(w) == [("complete_matter", "department", "hs-cgj")]
    world.complete_matter(w, surveyed + timedelta(days=8), reply="已重新清运并增加频次。")
    assert world.ready(w) == [("satisfaction_survey", "community", "hs-jfl-sq1")]
    world.survey(w, surveyed + timedelta(days=9), respondents=10, satisfied=7, basically=2, dissatisfied=1)
    assert [s.rate for s in world.rows(Survey, w)] == [50.0, 90.0]
    assert world.ready(w) == [("evaluate_department", "community", "hs-jfl-sq1")]
    world.evaluate_all(w, surveyed + timedelta(days=10))
    row = world.whistle(w)
    assert world.instance(w).status == "completed" and row.stage == "closed"
    assert row.satisfaction_rate == 90.0 and world.data(w)["rework_count"] == 1
    assert "已重新清运并增加频次。" in [e.reply for e in world.events(w)]


def test_r12_rework_only_once_a_second_failing_survey_goes_on_to_the_evaluation(world):
    dispatched = local(2026, 10, 12, 10)
    w = _handled(world, "楼道堆物清理", dispatched, "hs-jfl-sq2")
    world.survey(w, dispatched + timedelta(days=12), respondents=10, satisfied=1, basically=1, dissatisfied=8)
    assert world.ready(w) == [("report_for_duty", "department", "hs-cgj")]
    world.report_for_duty(w, dispatched + timedelta(days=13))
    world.complete_matter(w, dispatched + timedelta(days=20))
    world.survey(w, dispatched + timedelta(days=21), respondents=10, satisfied=3, basically=1, dissatisfied=6)
    assert world.ready(w) == [("evaluate_department", "community", "hs-jfl-sq2")]
    assert len(world.rows(WhistleEvent, w, WhistleEvent.kind == "rework")) == 1
    assert world.data(w)["rework_count"] == 1


def test_r12_a_survey_at_the_threshold_goes_straight_to_the_evaluation(world):
    dispatched = local(2026, 11, 2, 10)
    w = _handled(world, "路面坑洼", dispatched, "hs-js-sq1")
    world.survey(w, dispatched + timedelta(days=12), respondents=10, satisfied=4, basically=2, dissatisfied=4)
    assert world.whistle(w).satisfaction_rate == 60.0
    assert world.ready(w) == [("evaluate_department", "community", "hs-js-sq1")]
    assert world.rows(WhistleEvent, w, WhistleEvent.kind == "rework") == []
    assert world.data(w)["rework_count"] == 0
    world.evaluate_all(w, dispatched + timedelta(days=13))
    assert world.instance(w).status == "completed"
