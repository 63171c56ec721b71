"""R12, R16, R19 and who may do what, on the real diagrams: after completion the community
surveys the residents and evaluates every involved department with its facts; residents get a
reply at every stage; an officer of another unit neither sees nor completes a task."""
from datetime import timedelta

import pytest

from engine.errors import TaskNotReady
from governance import register, workspace
from governance.models import Evaluation, Survey
from governance.workspace import Forbidden
from tests.procedure_kit import local, world  # noqa: F401  (fixture)


def test_r12_r16_r19_survey_evaluations_and_replies_of_a_whole_whistle(world):
    reported = local(2026, 11, 2, 8, 30)
    w = world.report("公交站点设置不合理", at=reported, community_id="hs-jfl-sq2", category="交通出行")
    dispatched = local(2026, 11, 6, 10)
    world.to_handling(w, dispatched, lead="hs-zjj", cooperating=["hs-cgj"])
    # the cooperating department reports in time, the lead a day late (R8): each fact reaches
    # only that department's evaluation
    world.report_for_duty(w, dispatched + timedelta(days=2), dept="hs-cgj")
    world.fire(dispatched + timedelta(days=7, minutes=5))
    world.report_for_duty(w, dispatched + timedelta(days=8), dept="hs-zjj")
    world.consult(w, dispatched + timedelta(days=8, hours=2), lead="hs-zjj", participants=["hs-cgj"])
    world.act("bm-hs-cgj", "cooperate", {"contribution": "调整 12 路站点"}, w, at=dispatched + timedelta(days=9))
    world.complete_matter(w, dispatched + timedelta(days=20), dept="hs-zjj",
                          result="新增站点一处", reply="公交站点已调整，欢迎乘车。")
    assert world.whistle(w).completed_at == dispatched + timedelta(days=20)

    # R12: the survey's counts give the satisfaction rate
    world.survey(w, dispatched + timedelta(days=22), respondents=12, satisfied=7, basically=3, dissatisfied=2)
    [survey] = world.rows(Survey, w)
    assert (survey.respondents, survey.satisfied, survey.basically_satisfied, survey.dissatisfied) == (12, 7, 3, 2)
    assert survey.rate == round((7 + 3) * 100 / 12, 1) == 83.3
    assert world.whistle(w).satisfaction_rate == 83.3

    # R16: one evaluation task per involved department, each about its own department
    assert world.ready(w) == [("evaluate_department", "community", "hs-jfl-sq2")] * 2
    world.evaluate_all(w, dispatched + timedelta(days=23), grades={"hs-zjj": "fair", "hs-cgj": "excellent"})
    evaluations = {e.department_id: e for e in world.rows(Evaluation, w)}
    assert set(evaluations) == {"hs-zjj", "hs-cgj"}
    lead, coop = evaluations["hs-zjj"], evaluations["hs-cgj"]
    assert (lead.grade, lead.opinion, coop.grade) == ("fair", "hs-zjj 评价意见", "excellent")
    order_no = world.whistle(w).task_order_no
    assert lead.facts == {"role": "lead", "task_order_no": order_no, "days_to_report": 8.0, "days_to_complete": 20.0,
                          "report_overdue": True, "complete_overdue": False, "extensions": 0,
                          "satisfaction_rate": 83.3}
    # R8: the cooperating department is judged on its own report (in time), not on the lead's
    assert coop.facts["role"] == "cooperating" and coop.facts["report_overdue"] is False
    assert coop.facts["days_to_report"] == 2.0

    row = world.whistle(w)
    assert world.instance(w).status == "completed" and row.stage == "closed"
    assert row.closed_at == dispatched + timedelta(days=23)

    # R19: the residents got a reply at every stage, in order, and see them without officer names
    replies = [(e.stage, e.reply) for e in world.events(w) if e.reply]
    stages = [s for s, _ in replies]
    for stage in ("triage", "dispatch", "handling", "reported", "survey", "closed"):
        assert stage in stages, (stage, stages)
    texts = [r for _, r in replies]
    for text in ("已上报街道协调。", "街道已提请启动吹哨程序。", "公交站点已调整，欢迎乘车。"):
        assert text in texts
    assert any("花山区住房和城乡建设局" in t for t in texts)              # who handles it
    assert any("83.3%" in t for t in texts)                              # the survey result
    assert any(e.stage == "evaluation" and e.kind == "stage" for e in world.events(w))
    with world.factory() as session:
        public = register.public_timeline(session, session.get(type(row), row.id))
    assert [p["reply"] for p in public] == texts and all("actor" not in p for p in public)


def test_r16_an_escalated_whistle_is_evaluated_for_the_district_and_the_city_department(world):
    w = world.report("跨区道路断头路", at=local(2026, 9, 1, 9), community_id="ys-ys-sq3", category="交通出行")
    world.to_handling(w, local(2026, 9, 7, 10), lead="ys-zjj")
    world.report_for_duty(w, local(2026, 9, 8, 10), dept="ys-zjj")
    world.complete_matter(w, local(2026, 9, 30, 10), dept="ys-zjj", outcome="cannot_solve",
                          result="需市级统筹", reply="已提请上报市级。")
    world.act("zzb-ys", "district_meeting", {"meeting_date": "2026-10-09", "decision": "escalate", "minutes": "上报"},
              w, at=local(2026, 10, 9, 10))
    world.dispatch(w, local(2026, 10, 12, 10), lead="city-zjj", org="zzb-mas")
    world.report_for_duty(w, local(2026, 10, 13, 10), dept="city-zjj")
    world.complete_matter(w, local(2026, 11, 30, 10), dept="city-zjj")
    world.survey(w, local(2026, 12, 1, 10))
    world.evaluate_all(w, local(2026, 12, 2, 10))
    evaluations = {e.department_id: e.facts for e in world.rows(Evaluation, w)}
    assert set(evaluations) == {"ys-zjj", "city-zjj"}
    assert evaluations["ys-zjj"]["task_order_no"].startswith("RWD-YS-")
    assert evaluations["city-zjj"]["task_order_no"].startswith("RWD-MAS-")
    assert world.instance(w).status == "completed"


def test_permissions_an_officer_of_another_unit_neither_sees_nor_completes_the_task(world):
    w = world.report("路灯不亮", at=local(2026, 11, 2, 19), community_id="hs-js-sq1", category="明灯")
    [task] = world.inbox("sq-hs-js-sq1", w)
    assert task.task == "triage"
    # another community of the same street, a grid worker, the street: not in their inbox
    for username in ("sq-hs-js-sq2", "wg-hs-js-sq1", "jd-hs-js", "bm-hs-cgj"):
        assert world.inbox(username, w) == [], username
        with pytest.raises(Forbidden):
            world.complete(username, task.id, {"route": "local", "reply": "越权"}, at=local(2026, 11, 3, 9))
    assert world.ready(w) == [("triage", "community", "hs-js-sq1")]       # still waiting, untouched

    dispatched = local(2026, 11, 9, 10)
    world.complete("sq-hs-js-sq1", task.id, {"route": "street", "reply": "已上报街道协调。"}, at=local(2026, 11, 3, 9))
    with pytest.raises(TaskNotReady):                                     # done once, not twice
        world.complete("sq-hs-js-sq1", task.id, {"route": "local", "reply": "重复提交"}, at=local(2026, 11, 3, 9))
    world.act("jd-hs-js", "street_coordinate", {"outcome": "start_procedure", "result": "需部门", "reply": "已启动程序。"},
              w, at=local(2026, 11, 4, 9))
    world.start_procedure(w, local(2026, 11, 5, 9), lead="hs-cgj")
    # another district's org department does not see the district's propose task
    [propose] = world.inbox("zzb-hs", w)
    assert world.inbox("zzb-ys", w) == []
    with pytest.raises(Forbidden):
        world.complete("zzb-ys", propose.id, {"decision": "consult", "lead_department_id": "ys-cgj",
                                              "cooperating_department_ids": []}, at=local(2026, 11, 6, 9))
    world.dispatch(w, dispatched, lead="hs-cgj")
    # another department does not see or complete the lead department's report
    [report_task] = world.inbox("bm-hs-cgj", w)
    assert report_task.task == "report_for_duty"
    assert world.inbox("bm-hs-mzj", w) == [] and world.inbox("bm-city-cgj", w) == []
    with pytest.raises(Forbidden):
        world.complete("bm-hs-mzj", report_task.id, {}, at=dispatched + timedelta(days=1))
    # the whistle is not even visible to an uninvolved department
    with world.factory() as session:
        row = session.get(type(world.whistle(w)), w.id)
        assert workspace.can_see_whistle(session, world.officer("bm-hs-cgj"), row)
        assert not workspace.can_see_whistle(session, world.officer("bm-hs-mzj"), row)
        assert not workspace.can_see_whistle(session, world.officer("sq-hs-js-sq2"), row)
