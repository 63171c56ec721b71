"""R10 and R19 on the real diagrams, through the officers' inboxes: the completion deadline is
one quarter from the task order whatever the priority (the priority table only sets an earlier
target), every deadline ends at the end of a working day, and every step before dispatch has a
working-day deadline that is shown in the inbox and flagged and notified once when missed."""
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from governance import register
from governance.directory import unit_name
from governance.models import Evaluation, Notice, TaskOrder
from tests.deadline_kit import end_of_working_day, quarter_after, week_after, working_days_after
from tests.procedure_kit import local, world  # noqa: F401  (fixture)

# the defaults of the policy settings (local choices, governance.policy_settings), written out
STEP_DAYS = {"triage": 1, "street_coordinate": 3, "street_review": 3, "propose": 3, "confirm_dispatch": 2}


def _record(world, w) -> dict:
    with world.factory() as session:
        return register.whistle_record(session, w.id)


# -- R10: one quarter ------------------------------------------------------------------------------

def test_r10_the_completion_deadline_is_the_quarter_even_for_a_high_priority_matter(world):
    dispatched = local(2026, 11, 2, 10)                          # a Monday
    w = world.report("主干道井盖缺失", at=dispatched - timedelta(days=5), community_id="hs-jfl-sq2")
    world.to_handling(w, dispatched, lead="hs-cgj", urgency=3, complexity=1)     # high → P1M: a target
    quarter = quarter_after(dispatched)
    target = end_of_working_day((dispatched + relativedelta(months=1)).date())
    assert (quarter, target) == (local(2027, 2, 2, 17, 30), local(2026, 12, 2, 17, 30))
    row = world.whistle(w)
    assert (row.priority, row.complete_due, row.target_due) == ("high", quarter, target)
    [order] = world.rows(TaskOrder, w)
    assert (order.complete_due, order.target_due, order.completion_period) == (quarter, target, "P1M")
    # the timers run to the quarter, none to the target
    assert {due for task, due in world.timers(w) if task.startswith("complete_due_timer")} == {quarter}
    # shown as a target: register data and the department's inbox (its deadline is the quarter)
    record = _record(world, w)
    assert (record["target_due"], record["complete_due"]) == (target.isoformat(), quarter.isoformat())
    world.report_for_duty(w, dispatched + timedelta(days=2))
    [item] = world.inbox("bm-hs-cgj", w, at=dispatched + timedelta(days=3))
    assert (item.task, item.due_at, item.target_due) == ("complete_matter", quarter, target)

    # the target passes: no flag, no notice, no penalty
    world.fire(target + timedelta(minutes=1))
    world.fire(target + timedelta(days=20))
    row = world.whistle(w)
    assert not row.complete_overdue and world.notices(w, "complete_overdue") == []
    # the department completes after the target, within the quarter: its evaluation is on time
    world.complete_matter(w, target + timedelta(days=21))
    world.survey(w, target + timedelta(days=22))
    world.evaluate_all(w, target + timedelta(days=23))
    [evaluation] = world.rows(Evaluation, w)
    assert evaluation.facts["complete_overdue"] is False
    assert not world.rows(TaskOrder, w)[0].complete_overdue


def test_r10_deadlines_end_at_1730_on_a_working_day(world):
    dispatched = local(2026, 9, 29, 10)                         # R8's 7th day is in the National Day holiday
    w = world.report("小区围墙倒塌隐患", at=dispatched - timedelta(days=10), community_id="hs-jfl-sq3")
    world.to_handling(w, dispatched, lead="hs-zjj")
    [order] = world.rows(TaskOrder, w)
    assert order.report_due == week_after(dispatched) == local(2026, 10, 8, 17, 30)
    assert order.complete_due == quarter_after(dispatched) == local(2026, 12, 29, 17, 30)
    # 17:29 on the last day is still in time; the flag and the notices come at 17:30 and once
    world.fire(local(2026, 10, 8, 17, 29))
    assert not world.whistle(w).report_overdue
    world.fire(local(2026, 10, 8, 17, 31))
    world.fire(local(2026, 10, 9, 9))
    assert world.whistle(w).report_overdue
    assert sorted(n.unit_id for n in world.notices(w, "report_overdue")) == ["hs", "hs-jfl-sq3"]


def test_r10_a_quarter_ending_on_a_rest_day_moves_to_the_next_working_day(world):
    dispatched = local(2026, 8, 28, 15)                         # + 3 months = Saturday 28 November 2026
    w = world.report("路灯线路老化", at=dispatched - timedelta(days=6), community_id="ys-am-sq1")
    world.to_handling(w, dispatched, lead="ys-cgj")
    assert world.whistle(w).complete_due == local(2026, 11, 30, 17, 30) == quarter_after(dispatched)


# -- R19: every step before dispatch has a working-day deadline -----------------------------------

def test_r19_every_step_before_dispatch_has_a_working_day_deadline_shown_in_the_inbox(world):
    reported = local(2026, 11, 5, 15)                           # a Thursday
    w = world.report("人行道树木倒伏", at=reported, community_id="hs-js-sq1")
    [item] = world.inbox(f"sq-{w.community_id}", w, at=reported)
    assert (item.task, item.due_at) == ("triage", working_days_after(reported, STEP_DAYS["triage"]))
    assert item.due_at == local(2026, 11, 6, 17, 30)

    steps = [("triage", f"sq-{w.community_id}", {"route": "street", "reply": "已上报街道协调。"}),
             ("street_coordinate", f"jd-{w.street_id}",
              {"outcome": "start_procedure", "result": "需部门解决", "reply": "已提请启动程序。"}),
             ("street_review", f"jd-{w.street_id}",
              {"decision": "start_procedure", "category": "市容环境", "urgency": 2, "complexity": 2,
               "lead_department_id": "hs-cgj", "cooperating_department_ids": [], "opinion": "确需部门解决"}),
             ("propose", f"zzb-{w.district_id}",
              {"decision": "consult", "lead_department_id": "hs-cgj", "cooperating_department_ids": []}),
             ("consultation_reply", "bm-hs-cgj", {"answer": "accept"}),
             ("confirm_dispatch", f"zzb-{w.district_id}", {"decision": "dispatch"})]
    at = reported
    for task, officer, data in steps:
        [item] = [i for i in world.inbox(officer, w, at=at) if i.task == task]
        if task in STEP_DAYS:
            assert item.due_at == working_days_after(at, STEP_DAYS[task]), task
            assert item.state in ("ok", "soon"), task
        world.act(officer, task, data, w, at=at + timedelta(hours=1))
        at += timedelta(hours=2)
    assert world.rows(TaskOrder, w) and world.notices(w, "step_overdue") == []   # all in time: no notice


def test_r19_a_missed_step_is_flagged_and_notified_once_without_interrupting_it(world):
    reported = local(2026, 11, 6, 16)                           # a Friday: triage due Monday 17:30
    w = world.report("楼道堆物堵塞", at=reported, community_id="hs-jfl-sq1")
    due = local(2026, 11, 9, 17, 30)
    assert ("triage_due_timer", due) in world.timers(w)
    world.fire(due - timedelta(minutes=1))
    assert world.notices(w, "step_overdue") == []
    world.fire(due + timedelta(minutes=1))
    world.fire(due + timedelta(minutes=2))
    world.fire(due + timedelta(days=2))
    notices = world.notices(w, "step_overdue")
    assert sorted(n.unit_id for n in notices) == ["hs-jfl", "hs-jfl-sq1"]     # the community and its street
    assert all("社区研判逾期" in n.text for n in notices)
    assert [e.kind for e in world.events(w)].count("step_overdue") == 1
    # the task stays with the community, shown as overdue in its inbox
    [item] = world.inbox("sq-hs-jfl-sq1", w, at=due + timedelta(days=2))
    assert (item.task, item.state) == ("triage", "overdue")
    world.act("sq-hs-jfl-sq1", "triage", {"route": "street", "reply": "已上报街道。"}, w, at=due + timedelta(days=2))
    # the street's step gets its own deadline: 3 working days from when it began
    [item] = world.inbox(f"jd-{w.street_id}", w, at=due + timedelta(days=2))
    assert item.due_at == working_days_after(due + timedelta(days=2), 3)
    assert len(world.notices(w, "step_overdue")) == 2


def test_r19_a_late_proposal_notifies_the_district_and_the_city_org_department(world):
    start = local(2026, 11, 2, 9)
    w = world.report("学校门口交通拥堵", at=start, community_id="ys-ys-sq1")
    world.to_street_review(w, start + timedelta(hours=1))
    world.start_procedure(w, start + timedelta(hours=3), lead="ys-cgj")
    [item] = world.inbox("zzb-ys", w, at=start + timedelta(hours=4))
    assert item.task == "propose" and item.due_at == local(2026, 11, 5, 17, 30)   # Monday + 3 working days
    world.fire(local(2026, 11, 5, 17, 31))
    assert sorted(n.unit_id for n in world.notices(w, "step_overdue")) == ["mas", "ys"]
    assert ("propose", "district_org", "ys") in world.ready(w)


def test_r19_a_lapsed_consultation_notifies_the_org_department(world):
    w = world.report("农贸市场油烟扰民", at=local(2026, 11, 2, 9), community_id="ys-ys-sq2")
    world.to_street_review(w, local(2026, 11, 3, 9))
    world.start_procedure(w, local(2026, 11, 4, 9), lead="ys-cgj")
    world.propose(w, local(2026, 11, 5, 9), lead="ys-cgj", cooperating=["ys-zjj"])
    world.act("bm-ys-cgj", "consultation_reply", {"answer": "accept"}, w, at=local(2026, 11, 5, 10))
    deadline = local(2026, 11, 10, 17, 30)
    world.fire(deadline + timedelta(minutes=1))
    world.fire(deadline + timedelta(hours=2))
    [notice] = world.notices(w, "consultation_lapsed")        # the district org department, once
    with world.factory() as session:
        silent, answered = unit_name(session, "ys-zjj"), unit_name(session, "ys-cgj")
    assert notice.unit_id == "ys" and silent in notice.text and answered not in notice.text
    # the confirmation step now has its own deadline (2 working days)
    [item] = world.inbox("zzb-ys", w, at=deadline + timedelta(hours=2))
    assert item.task == "confirm_dispatch"
    assert item.due_at == working_days_after(deadline + timedelta(minutes=1), STEP_DAYS["confirm_dispatch"])
    assert world.rows(Notice, w, Notice.kind == "consultation_lapsed", Notice.unit_id != "ys") == []
