"""R4–R7, R13 on the real diagrams: the street grades and starts the procedure, the org
department consults the proposed departments and dispatches a task order (任务单); what a
district department cannot solve goes to the city."""
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta

from governance.calendar import TZ
from governance.models import Consultation, TaskOrder
from tests.deadline_kit import end_of_working_day, quarter_after, week_after
from tests.procedure_kit import local, world  # noqa: F401  (fixture)

# the policy's grading (R4/R10), written out here independently of decisions/priority.dmn
GRADING = {(3, 1): ("high", 1), (3, 3): ("high", 2), (2, 2): ("normal", 2), (2, 3): ("normal", 3),
           (1, 1): ("low", 2), (1, 3): ("normal", 3)}


@pytest.mark.parametrize("urgency,complexity", [(3, 1), (2, 3), (1, 1)])
def test_r04_r10_street_review_grades_priority_and_completion_period(world, urgency, complexity):
    dispatched = local(2026, 11, 30, 10)        # the end of a month: months are calendar months
    w = world.report(f"路面塌陷 u{urgency}c{complexity}", at=dispatched - timedelta(days=5), community_id="hs-js-sq1")
    world.to_street_review(w, dispatched - timedelta(days=4))
    world.start_procedure(w, dispatched - timedelta(days=3), urgency=urgency, complexity=complexity)
    priority, months = GRADING[(urgency, complexity)]
    data = world.data(w)
    assert (data["priority"], data["completion_period"]) == (priority, f"P{months}M")
    row = world.whistle(w)
    assert (row.priority, row.level, row.stage) == (priority, "district", "dispatch")
    assert world.ready(w) == [("propose", "district_org", "hs")]     # R5: the district org department

    world.dispatch(w, dispatched)
    [order] = world.rows(TaskOrder, w)
    assert order.issued_at == dispatched and order.level == "district"
    assert order.report_due == week_after(dispatched)                                 # R8
    assert order.complete_due == quarter_after(dispatched)                            # R10: always the quarter
    # R4: the graded period is only an earlier target
    target = end_of_working_day((dispatched.astimezone(TZ) + relativedelta(months=months)).date())
    assert order.target_due == (target if months < 3 else None)
    row = world.whistle(w)
    assert (row.task_order_no, row.report_due, row.complete_due, row.target_due) == (
        order.order_no, order.report_due, order.complete_due, order.target_due)


def test_r05_r07_consultation_objection_revision_and_task_order(world):
    w = world.report("小区违建", at=local(2026, 11, 2, 9), community_id="hs-jfl-sq3")
    world.to_street_review(w, local(2026, 11, 3, 9))
    world.start_procedure(w, local(2026, 11, 4, 9), urgency=2, complexity=2, lead="hs-cgj")
    # R7: before dispatching, the district org department consults the proposed departments
    world.propose(w, local(2026, 11, 5, 9), lead="hs-cgj", cooperating=["hs-zjj"])
    assert world.ready(w) == [("consultation_reply", "department", "hs-cgj"),
                              ("consultation_reply", "department", "hs-zjj")]
    round1 = world.rows(Consultation, w)
    assert {c.department_id for c in round1} == {"hs-cgj", "hs-zjj"}
    assert all(c.due_at == local(2026, 11, 10, 17, 30) for c in round1)   # Thu + 3 working days (Fri, Mon, Tue)
    assert {n.unit_id for n in world.notices(w, "consultation")} == {"hs-cgj", "hs-zjj"}

    world.act("bm-hs-zjj", "consultation_reply",
              {"answer": "object", "reason": "违建拆除属城管执法职责", "suggested_unit_id": "hs-mzj"},
              w, at=local(2026, 11, 5, 14))
    world.act("bm-hs-cgj", "consultation_reply", {"answer": "object", "reason": "需住建部门先行认定"},
              w, at=local(2026, 11, 6, 10))
    by_dept = {c.department_id: c for c in world.rows(Consultation, w)}
    assert (by_dept["hs-zjj"].answer, by_dept["hs-zjj"].reason, by_dept["hs-zjj"].suggested_unit_id) == \
        ("object", "违建拆除属城管执法职责", "hs-mzj")
    assert (by_dept["hs-cgj"].answer, by_dept["hs-cgj"].reason) == ("object", "需住建部门先行认定")
    assert all(c.closed_at is not None for c in by_dept.values())
    assert world.ready(w) == [("confirm_dispatch", "district_org", "hs")]
    answers = {a["department_id"]: a["answer"] for a in world.data(w)["consultation_answers"]}
    assert answers == {"hs-cgj": "object", "hs-zjj": "object"}       # the org department sees every answer

    # the org department revises: propose again → consult → dispatch
    world.act("zzb-hs", "confirm_dispatch", {"decision": "revise", "note": "改由住建局牵头"}, w, at=local(2026, 11, 6, 15))
    assert world.ready(w) == [("propose", "district_org", "hs")] and world.rows(TaskOrder, w) == []
    world.propose(w, local(2026, 11, 6, 16), lead="hs-zjj", cooperating=["hs-cgj"])
    for dept in ("hs-zjj", "hs-cgj"):
        world.act(f"bm-{dept}", "consultation_reply", {"answer": "accept"}, w, at=local(2026, 11, 9, 9))
    dispatched = local(2026, 11, 9, 11)
    world.act("zzb-hs", "confirm_dispatch", {"decision": "dispatch", "note": "按协商结果派单"}, w, at=dispatched)

    rounds = sorted({c.round for c in world.rows(Consultation, w)})
    assert rounds == [1, 2]
    [order] = world.rows(TaskOrder, w)
    assert order.order_no == "RWD-HS-2026-" + order.order_no[-4:] and order.level == "district"
    assert (order.lead_department_id, order.cooperating_department_ids) == ("hs-zjj", ["hs-cgj"])
    assert order.report_due == week_after(dispatched)
    assert order.complete_due == quarter_after(dispatched)                 # R10: the quarter, always
    assert order.target_due == end_of_working_day((dispatched + relativedelta(months=2)).date())   # 2 × 2 → P2M
    assert {n.unit_id for n in world.notices(w, "task_order")} == {"hs-zjj", "hs-cgj"}
    # R8: the lead and the cooperating department each report for duty (issue 9)
    assert world.ready(w) == [("report_for_duty", "department", "hs-cgj"), ("report_for_duty", "department", "hs-zjj")]
    # R8 report deadline, and the R10 completion deadline already running from dispatch
    assert sorted(world.timers(w)) == sorted([("report_due_timer", order.report_due),
                                              ("complete_due_timer_report", order.complete_due)])


def test_r07_unanswered_consultation_closes_at_its_deadline_as_no_reply(world):
    w = world.report("菜市场周边交通拥堵", at=local(2026, 11, 2, 9), community_id="ys-ys-sq1")
    world.to_street_review(w, local(2026, 11, 3, 9))
    world.start_procedure(w, local(2026, 11, 4, 9), lead="ys-cgj")
    world.act("zzb-ys", "propose", {"decision": "consult", "lead_department_id": "ys-cgj",
                                    "cooperating_department_ids": ["ys-zjj"]}, w, at=local(2026, 11, 5, 9))
    world.act("bm-ys-cgj", "consultation_reply", {"answer": "accept"}, w, at=local(2026, 11, 5, 10))
    deadline = local(2026, 11, 10, 17, 30)              # 3 working days after Thursday 5 November
    assert world.timers(w) == [("consultation_due_timer", deadline)]
    world.fire(deadline - timedelta(minutes=1))
    assert ("consultation_reply", "department", "ys-zjj") in world.ready(w)
    world.fire(deadline + timedelta(minutes=1))
    assert world.ready(w) == [("confirm_dispatch", "district_org", "ys")]
    by_dept = {c.department_id: c for c in world.rows(Consultation, w)}
    assert by_dept["ys-cgj"].answer == "accept"
    assert by_dept["ys-zjj"].answer == "no_reply" and by_dept["ys-zjj"].closed_at == deadline + timedelta(minutes=1)
    assert world.inbox("bm-ys-zjj", w) == []             # the request is gone from the silent department's inbox


def test_r06_what_a_district_department_cannot_solve_is_dispatched_by_the_city(world):
    w = world.report("跨区公交线路调整", at=local(2026, 11, 2, 9), community_id="hs-hdl-sq2", category="交通出行")
    world.to_handling(w, local(2026, 11, 6, 10), lead="hs-zjj")
    world.report_for_duty(w, local(2026, 11, 9, 10), dept="hs-zjj")
    world.complete_matter(w, local(2026, 11, 20, 10), dept="hs-zjj", outcome="cannot_solve",
                          result="线路调整需市级统筹", reply="区级无法解决，已提请上报市级。")
    # R6: the district committee meeting, recorded by the district org department
    assert world.ready(w) == [("district_meeting", "district_org", "hs")]
    world.act("zzb-hs", "district_meeting", {"meeting_date": "2026-11-24", "decision": "escalate",
                                             "minutes": "上报市委组织部"}, w, at=local(2026, 11, 24, 16))
    # the city org department now proposes: its task, not the district's
    assert world.ready(w) == [("propose", "city_org", "mas")]
    assert [i.task for i in world.inbox("zzb-mas", w)] == ["propose"]
    assert world.inbox("zzb-hs", w) == []
    dispatched = local(2026, 11, 26, 10)
    world.dispatch(w, dispatched, lead="city-gjjt", cooperating=["city-jtj"], org="zzb-mas")
    orders = world.rows(TaskOrder, w)
    assert [(o.level, o.lead_department_id) for o in orders] == [("district", "hs-zjj"), ("city", "city-gjjt")]
    assert orders[1].order_no.startswith("RWD-MAS-2026-")
    assert orders[1].report_due == week_after(dispatched)
    row = world.whistle(w)
    assert (row.level, row.lead_department_id, row.task_order_no) == ("city", "city-gjjt", orders[1].order_no)
    assert world.ready(w) == [("report_for_duty", "department", "city-gjjt"), ("report_for_duty", "department", "city-jtj")]
    # every department that took part is evaluated later (R16): the district one included
    assert world.data(w)["involved_department_ids"] == ["hs-zjj", "city-gjjt", "city-jtj"]


def test_r06_org_department_may_ask_the_district_meeting_before_dispatching(world):
    w = world.report("铁路沿线噪声", at=local(2026, 11, 2, 9), community_id="hs-js-sq2")
    world.to_street_review(w, local(2026, 11, 3, 9))
    world.start_procedure(w, local(2026, 11, 4, 9))
    world.act("zzb-hs", "propose", {"decision": "escalate", "note": "涉及铁路部门，区级无权协调"}, w,
              at=local(2026, 11, 5, 9))
    assert world.ready(w) == [("district_meeting", "district_org", "hs")]
    world.act("zzb-hs", "district_meeting", {"meeting_date": "2026-11-06", "decision": "escalate",
                                             "minutes": "同意上报"}, w, at=local(2026, 11, 6, 17))
    assert world.ready(w) == [("propose", "city_org", "mas")]
    assert world.whistle(w).level == "city"


def test_r13_lead_and_two_cooperating_departments_work_in_parallel(world):
    w = world.report("校园周边小饭桌整治", at=local(2026, 11, 2, 9), community_id="ys-ys-sq2", category="安全")
    dispatched = local(2026, 11, 9, 10)
    world.to_handling(w, dispatched, lead="ys-cgj", cooperating=["ys-mzj", "ys-zjj"])
    # R8: all three report for duty, each in its own inbox (issue 9)
    assert world.ready(w) == [("report_for_duty", "department", "ys-cgj"), ("report_for_duty", "department", "ys-mzj"),
                              ("report_for_duty", "department", "ys-zjj")]
    assert [(i.task, i.unit_id) for i in world.inbox("bm-ys-mzj", w)] == [("report_for_duty", "ys-mzj")]
    assert [(i.task, i.unit_id) for i in world.inbox("bm-ys-zjj", w)] == [("report_for_duty", "ys-zjj")]
    world.report_all(w, local(2026, 11, 10, 9), ["ys-cgj", "ys-mzj", "ys-zjj"])
    world.consult(w, local(2026, 11, 11, 9), lead="ys-cgj", participants=["ys-mzj", "ys-zjj"])
    # each cooperating department's officer sees only its own cooperate task
    assert [(i.task, i.unit_id) for i in world.inbox("bm-ys-mzj", w)] == [("cooperate", "ys-mzj")]
    assert [(i.task, i.unit_id) for i in world.inbox("bm-ys-zjj", w)] == [("cooperate", "ys-zjj")]
    world.act("bm-ys-mzj", "cooperate", {"contribution": "排查学校周边小饭桌 12 家"}, w, at=local(2026, 11, 12, 9))
    assert "complete_matter" not in [t for t, _, _ in world.ready(w)]   # one co-operator still works
    world.act("bm-ys-zjj", "cooperate", {"contribution": "开展食品卫生检查"}, w, at=local(2026, 11, 13, 9))
    assert world.ready(w) == [("complete_matter", "department", "ys-cgj")]
    data = world.data(w)
    by_dept = {data["cooperating_department_ids"][int(k)]: v for k, v in data["contributions"].items()}
    assert by_dept == {"ys-mzj": "排查学校周边小饭桌 12 家", "ys-zjj": "开展食品卫生检查"}
    cooperate_events = [e.text for e in world.events(w) if e.kind == "cooperate"]
    assert len(cooperate_events) == 2
