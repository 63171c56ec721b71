"""R13 共同协商 (issue 9): when several departments solve a matter together, the lead department
convenes the cooperating departments in a recorded joint consultation (date, participants, agreed
split of work) before it can report completion; the cooperating departments contribute after it,
and while their work is open the lead sees what it waits for. Through the officers' inboxes."""
from datetime import timedelta

import pytest

from engine.errors import FormInvalid
from governance import duty_reports, workspace
from governance.duty_models import JointConsultation
from tests.procedure_kit import local, world  # noqa: F401  (fixture)


def _reported(world, title, community, dispatched, lead="hs-cgj", cooperating=("hs-zjj", "hs-mzj")):
    w = world.report(title, at=dispatched - timedelta(days=5), community_id=community)
    world.to_handling(w, dispatched, lead=lead, cooperating=cooperating)
    world.report_all(w, dispatched + timedelta(days=1), [lead, *cooperating])
    return w


def test_r13_the_lead_convenes_a_recorded_joint_consultation_before_it_can_complete(world):
    dispatched = local(2026, 11, 9, 10)
    w = _reported(world, "老旧小区加装电梯协调", "hs-jfl-sq1", dispatched)
    # every department reported: the lead's next step is the consultation, nothing else
    assert world.ready(w) == [("joint_consultation", "department", "hs-cgj")]
    assert [i.task for i in world.inbox("bm-hs-zjj", w)] == [] and [i.task for i in world.inbox("bm-hs-mzj", w)] == []

    split = "花山区住房和城乡建设局：负责施工许可和安全监管\nhs-mzj：协调居民意见"
    world.consult(w, dispatched + timedelta(days=2), participants=["hs-zjj", "hs-mzj"], split=split,
                  minutes="三部门现场会商")
    [row] = world.rows(JointConsultation, w)
    assert row.held_on.isoformat() == "2026-11-11" and row.lead_department_id == "hs-cgj"
    assert row.participant_ids == ["hs-zjj", "hs-mzj"] and row.absent_ids == []
    assert row.work_split == {"hs-zjj": "负责施工许可和安全监管", "hs-mzj": "协调居民意见"}
    assert row.split_text == split and row.minutes == "三部门现场会商"
    assert row.task_order_no == world.whistle(w).task_order_no
    [event] = [e for e in world.events(w) if e.kind == "joint_consultation"]
    assert "共同协商" in event.text and "协调居民意见" in event.text
    with world.factory() as session:
        shown = duty_reports.consultations_of(session, world.whistle(w))
    assert [p["department_id"] for p in shown[0]["participants"]] == ["hs-zjj", "hs-mzj"]

    # the contributions follow the consultation; the lead cannot report completion before them
    assert world.ready(w) == [("cooperate", "department", "hs-mzj"), ("cooperate", "department", "hs-zjj")]
    world.cooperate_all(w, dispatched + timedelta(days=5), ["hs-zjj"])
    assert "complete_matter" not in [t for t, _, _ in world.ready(w)]
    world.cooperate_all(w, dispatched + timedelta(days=6), ["hs-mzj"])
    assert world.ready(w) == [("complete_matter", "department", "hs-cgj")]


def test_r13_an_absent_department_is_recorded_as_absent(world):
    dispatched = local(2026, 11, 9, 10)
    w = _reported(world, "河道沿线违建", "hs-jfl-sq2", dispatched)
    world.consult(w, dispatched + timedelta(days=2), participants=["hs-zjj"], split="hs-zjj：拆除方案")
    [row] = world.rows(JointConsultation, w)
    assert row.participant_ids == ["hs-zjj"] and row.absent_ids == ["hs-mzj"]
    assert any("未参加" in e.text for e in world.events(w) if e.kind == "joint_consultation")


def test_r13_a_consultation_with_an_unknown_participant_or_a_future_date_is_refused_and_changes_nothing(world):
    dispatched = local(2026, 11, 9, 10)
    w = _reported(world, "菜场噪声扰民", "hs-hdl-sq1", dispatched)
    before = world.instance(w)
    at = dispatched + timedelta(days=2)
    with pytest.raises(FormInvalid) as refused:                      # the lead is no cooperating department
        world.consult(w, at, participants=["hs-zjj", "hs-cgj"])
    assert {e.field.split(".")[0] for e in refused.value.errors} == {"participant_ids"}
    with pytest.raises(FormInvalid) as refused:
        world.consult(w, at, participants=["hs-zjj"], held_on="2026-11-30")     # in the future
    assert {e.field.split(".")[0] for e in refused.value.errors} == {"held_on"}
    with pytest.raises(FormInvalid) as refused:
        world.consult(w, at, participants=["hs-zjj"], held_on="2026-11-01")        # before the dispatch
    assert {e.field.split(".")[0] for e in refused.value.errors} == {"held_on"}
    after = world.instance(w)
    assert after.lock_version == before.lock_version and after.state == before.state
    assert world.rows(JointConsultation, w) == []
    assert world.ready(w) == [("joint_consultation", "department", "hs-cgj")]


def test_r13_while_cooperating_work_is_open_the_lead_sees_what_it_waits_for(world):
    dispatched = local(2026, 11, 9, 10)
    w = world.report("小区消防通道堵塞", at=dispatched - timedelta(days=5), community_id="hs-js-sq2")
    world.to_handling(w, dispatched, lead="hs-cgj", cooperating=["hs-zjj"])
    world.report_for_duty(w, dispatched + timedelta(days=1), dept="hs-cgj")
    lead = world.officer("bm-hs-cgj")

    def waiting():
        with world.factory() as session:
            return [x for x in workspace.waiting_for_others(session, lead) if x["whistle_id"] == w.id]

    [item] = waiting()                                     # the cooperating department has not reported yet
    assert [(i["task"], i["unit_id"]) for i in item["waiting_for"]] == [("report_for_duty", "hs-zjj")]
    assert item["line"] == "等待：花山区住房和城乡建设局（部门报到）"
    world.report_for_duty(w, dispatched + timedelta(days=2), dept="hs-zjj")
    assert waiting() == []                                 # now it is the lead's own turn (the consultation)
    world.consult(w, dispatched + timedelta(days=3), participants=["hs-zjj"])
    [item] = waiting()
    assert item["line"] == "等待：花山区住房和城乡建设局（配合办理）"
    assert world.inbox("bm-hs-cgj", w) == []               # complete_matter is not ready yet
    world.cooperate_all(w, dispatched + timedelta(days=4), ["hs-zjj"])
    assert waiting() == [] and [i.task for i in world.inbox("bm-hs-cgj", w)] == ["complete_matter"]
    # the cooperating department's officer waits for nobody
    with world.factory() as session:
        assert workspace.waiting_for_others(session, world.officer("bm-hs-zjj")) == [] or all(
            x["whistle_id"] != w.id for x in workspace.waiting_for_others(session, world.officer("bm-hs-zjj")))


def test_r13_a_lead_without_cooperating_departments_has_no_consultation(world):
    dispatched = local(2026, 11, 9, 10)
    w = world.report("井盖缺失", at=dispatched - timedelta(days=5), community_id="hs-js-sq1")
    world.to_handling(w, dispatched, lead="hs-cgj")
    world.report_for_duty(w, dispatched + timedelta(days=1))
    assert world.ready(w) == [("complete_matter", "department", "hs-cgj")]


def test_r13_the_lead_departments_web_inbox_says_what_it_waits_for(db_url, tmp_path):
    from tests.webkit import STANDARD, advance, complete_as_officer, demo_app, logged_in, report

    with demo_app(db_url, tmp_path) as (app, factory):
        _, iid, whistle_no = report(factory)
        tasks = advance(factory, iid, "report_for_duty")          # lead hs-cgj, cooperating hs-zjj
        lead_report = next(t for t in tasks if t.task == "report_for_duty" and t.unit_id == "hs-cgj")
        complete_as_officer(factory, lead_report, STANDARD["report_for_duty"])
        page = logged_in(app, "bm-hs-cgj").get("/inbox").get_data(as_text=True)
        assert 'data-testid="waiting-for"' in page
        assert whistle_no in page and "等待：花山区住房和城乡建设局 (部门报到)" in page
        english = logged_in(app, "bm-hs-cgj").get("/inbox?lang=en").get_data(as_text=True)
        assert "Waiting for: " in english and "Report for duty" in english
        # the cooperating department waits for nobody: no such box in its inbox
        assert 'data-testid="waiting-for"' not in logged_in(app, "bm-hs-zjj").get("/inbox").get_data(as_text=True)
