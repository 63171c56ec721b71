"""R8/R9 (issue 9): every dispatched department — the lead AND each cooperating one — reports for
duty at the whistling community within a week of the task order, with its own leader, contact and
work plan; each is flagged, notified and evaluated on its own timeliness only. R14: in a joint
matter each department reports at every whistling community, and an extension needs every
community's agreement. Driven through the officers' inboxes (tests/procedure_kit.py)."""
from datetime import timedelta

from engine.clock import frozen_at
from engine.db import write_session
from governance import joint as J
from governance import workspace
from governance.duty_models import DepartmentReport, JointConsultation
from governance.models import Evaluation, Extension, TaskOrder, Whistle
from tests.procedure_kit import REPORT, local, world  # noqa: F401  (fixture)

COOP_REPORT = {"leader_name": "赵副局长", "leader_phone": "13966661234", "contact_name": "钱科员",
               "contact_phone": "0555-8765432", "work_plan": "配合牵头部门开展联合执法。"}


def _reports(world, w) -> dict:
    return {(r.department_id, r.community_id): r for r in world.rows(DepartmentReport, w)}


def test_r08_each_cooperating_department_reports_for_duty_itself(world):
    dispatched = local(2026, 11, 9, 10)
    w = world.report("背街小巷乱停车", at=dispatched - timedelta(days=5), community_id="hs-jfl-sq1")
    world.to_handling(w, dispatched, lead="hs-cgj", cooperating=["hs-zjj"])
    # both departments have their own report for duty, each in its own officers' inbox
    assert world.ready(w) == [("report_for_duty", "department", "hs-cgj"), ("report_for_duty", "department", "hs-zjj")]
    [coop_item] = world.inbox("bm-hs-zjj", w)
    assert coop_item.task == "report_for_duty" and coop_item.due_at == world.whistle(w).report_due
    with world.factory() as session:
        from engine.models import InboxTask
        context = workspace.task_context(session, session.get(InboxTask, coop_item.id))
    assert (context["department_id"], context["duty_role"], context["duty_community_id"]) == \
        ("hs-zjj", "cooperating", "hs-jfl-sq1")

    world.report_for_duty(w, dispatched + timedelta(days=1), dept="hs-cgj")
    # the lead alone is not enough: nothing moves on until the cooperating department reported too
    assert world.ready(w) == [("report_for_duty", "department", "hs-zjj")]
    world.report_for_duty(w, dispatched + timedelta(days=3), dept="hs-zjj", **COOP_REPORT)
    assert world.ready(w) == [("joint_consultation", "department", "hs-cgj")]

    rows = _reports(world, w)
    lead, coop = rows[("hs-cgj", "hs-jfl-sq1")], rows[("hs-zjj", "hs-jfl-sq1")]
    [order] = world.rows(TaskOrder, w)
    for row, role, fields, at in ((lead, "lead", REPORT, 1), (coop, "cooperating", COOP_REPORT, 3)):
        assert (row.role, row.task_order_no, row.report_due) == (role, order.order_no, order.report_due)
        assert row.reported_at == dispatched + timedelta(days=at) and not row.overdue
        assert {k: getattr(row, k) for k in fields} == fields
    # the cooperating department's report is on the whistle's timeline with its own people
    [event] = [e for e in world.events(w) if e.kind == "report_for_duty"]
    assert "赵副局长" in event.text and "钱科员" in event.text and "配合" in event.text
    assert world.whistle(w).reported_at == dispatched + timedelta(days=1)      # the lead's report


def test_r08_a_late_cooperating_department_is_flagged_alone_and_the_lead_is_not(world):
    dispatched = local(2026, 11, 9, 10)
    w = world.report("人行道破损", at=dispatched - timedelta(days=5), community_id="hs-jfl-sq2")
    world.to_handling(w, dispatched, lead="hs-cgj", cooperating=["hs-zjj"])
    report_due = world.whistle(w).report_due
    world.report_for_duty(w, dispatched + timedelta(days=2), dept="hs-cgj")
    world.fire(report_due - timedelta(minutes=1))
    assert world.notices(w, "report_overdue") == []
    world.fire(report_due + timedelta(minutes=1))
    world.fire(report_due + timedelta(days=2))                       # a second sweep notifies nobody again
    rows = _reports(world, w)
    assert rows[("hs-zjj", "hs-jfl-sq2")].overdue and not rows[("hs-cgj", "hs-jfl-sq2")].overdue
    notices = world.notices(w, "report_overdue")
    assert sorted(n.unit_id for n in notices) == ["hs", "hs-jfl-sq2"]        # org department + community, once
    assert all("花山区住房和城乡建设局" in n.text and "配合" in n.text for n in notices)
    # the lead reported in time: neither the whistle's nor the order's report flag is raised
    assert not world.whistle(w).report_overdue and not world.rows(TaskOrder, w)[0].report_overdue
    # its task stays (non-interrupting); reporting late changes nothing more
    assert world.ready(w) == [("report_for_duty", "department", "hs-zjj")]
    world.report_for_duty(w, report_due + timedelta(days=3), dept="hs-zjj")
    assert len(world.notices(w, "report_overdue")) == 2 and _reports(world, w)[("hs-zjj", "hs-jfl-sq2")].overdue


def test_r08_a_late_lead_is_flagged_alone_and_the_cooperating_department_is_not(world):
    dispatched = local(2026, 11, 9, 10)
    w = world.report("绿化带缺损", at=dispatched - timedelta(days=5), community_id="hs-hdl-sq1")
    world.to_handling(w, dispatched, lead="hs-cgj", cooperating=["hs-zjj"])
    report_due = world.whistle(w).report_due
    world.report_for_duty(w, dispatched + timedelta(days=1), dept="hs-zjj")
    # the lead reports late before any sweep ran: it is flagged on its own report, once
    world.report_for_duty(w, report_due + timedelta(hours=2), dept="hs-cgj")
    world.fire(report_due + timedelta(hours=3))
    rows = _reports(world, w)
    assert rows[("hs-cgj", "hs-hdl-sq1")].overdue and not rows[("hs-zjj", "hs-hdl-sq1")].overdue
    assert world.whistle(w).report_overdue and world.rows(TaskOrder, w)[0].report_overdue
    notices = world.notices(w, "report_overdue")
    assert sorted(n.unit_id for n in notices) == ["hs", "hs-hdl-sq1"] and "牵头" in notices[0].text


def test_r08_r16_the_evaluation_uses_each_departments_own_timeliness(world):
    dispatched = local(2026, 11, 9, 10)
    w = world.report("农贸市场周边占道", at=dispatched - timedelta(days=5), community_id="hs-js-sq1")
    world.to_handling(w, dispatched, lead="hs-cgj", cooperating=["hs-zjj"])
    world.report_for_duty(w, dispatched + timedelta(days=1), dept="hs-cgj")
    world.fire(dispatched + timedelta(days=8))                       # the cooperating department is late
    world.report_for_duty(w, dispatched + timedelta(days=9), dept="hs-zjj")
    world.consult(w, dispatched + timedelta(days=10), participants=["hs-zjj"])
    world.cooperate_all(w, dispatched + timedelta(days=11), ["hs-zjj"])
    world.complete_matter(w, dispatched + timedelta(days=20))
    world.survey(w, dispatched + timedelta(days=21))
    world.evaluate_all(w, dispatched + timedelta(days=22))
    facts = {e.department_id: e.facts for e in world.rows(Evaluation, w)}
    assert (facts["hs-cgj"]["report_overdue"], facts["hs-cgj"]["days_to_report"]) == (False, 1.0)
    assert (facts["hs-zjj"]["report_overdue"], facts["hs-zjj"]["days_to_report"]) == (True, 9.0)
    assert facts["hs-zjj"]["role"] == "cooperating" and facts["hs-cgj"]["role"] == "lead"


# -- R14: joint matters ---------------------------------------------------------------------------

JOINT_COMMUNITIES = ("ys-am-sq1", "ys-am-sq2", "ys-ys-sq1")


def _joint_items(world, username, joint, at=None):
    return [i for i in world.inbox(username, at=at) if i.instance_id == joint.instance_id]


def _joint_act(world, username, task, data, joint, at):
    items = [i for i in _joint_items(world, username, joint, at) if i.task == task]
    assert items, (username, task)
    return world.complete(username, items[0].id, data, at=at)


def _joint_ready(world, joint):
    from engine.models import InboxTask
    from sqlalchemy import select
    with world.factory() as session:
        return sorted((t.task, t.role, t.unit_id) for t in
                      session.scalars(select(InboxTask).where(InboxTask.instance_id == joint.instance_id)))


def _dispatched_joint(world, title, dispatched, lead="ys-cgj", cooperating=("ys-zjj",)):
    ws = []
    for community in JOINT_COMMUNITIES:
        w = world.report(title, at=dispatched - timedelta(days=6), community_id=community, category="市容环境")
        world.to_street_review(w, dispatched - timedelta(days=5))
        ws.append(w)
    at = dispatched - timedelta(days=3)
    with write_session(world.factory) as session, frozen_at(at):
        joint = J.open_joint_matter(session, [w.id for w in ws], actor="zzb-ys", level="district", at=at)
        session.flush()
        session.expunge(joint)
    _joint_act(world, "zzb-ys", "propose", {"decision": "consult", "lead_department_id": lead,
                                            "cooperating_department_ids": list(cooperating)}, joint,
               dispatched - timedelta(hours=3))
    for dept in (lead, *cooperating):
        _joint_act(world, f"bm-{dept}", "consultation_reply", {"answer": "accept"}, joint,
                   dispatched - timedelta(hours=2))
    _joint_act(world, "zzb-ys", "confirm_dispatch", {"decision": "dispatch"}, joint, dispatched)
    return joint, ws


def test_r14_each_department_reports_for_duty_at_every_whistling_community(world):
    dispatched = local(2026, 10, 12, 10)
    joint, ws = _dispatched_joint(world, "多个社区反映渣土车抛洒", dispatched)
    expected = sorted(("report_for_duty", "department", d) for d in ("ys-cgj", "ys-zjj") for _ in JOINT_COMMUNITIES)
    assert _joint_ready(world, joint) == expected
    # every report is about one community, visible in the department's own inbox
    with world.factory() as session:
        from engine.models import InboxTask
        where = sorted(workspace.task_context(session, session.get(InboxTask, i.id))["duty_community_id"]
                       for i in _joint_items(world, "bm-ys-zjj", joint))
    assert where == sorted(JOINT_COMMUNITIES)
    # the lead reports at every community in time; the cooperating department at two of three
    for n in range(3):
        _joint_act(world, "bm-ys-cgj", "report_for_duty", {**REPORT, "visited_on": "2026-10-13"}, joint,
                   dispatched + timedelta(days=1, hours=n))
    for n in range(2):
        _joint_act(world, "bm-ys-zjj", "report_for_duty", {**REPORT, "visited_on": "2026-10-14"}, joint,
                   dispatched + timedelta(days=2, hours=n))
    world.fire(dispatched + timedelta(days=8))
    flagged = []
    for w in ws:
        rows = _reports(world, w)
        assert set(rows) == {("ys-cgj", w.community_id), ("ys-zjj", w.community_id)}
        assert rows[("ys-cgj", w.community_id)].reported_at is not None
        assert not rows[("ys-cgj", w.community_id)].overdue
        assert rows[("ys-cgj", w.community_id)].task_order_no == world.whistle(w).task_order_no
        if rows[("ys-zjj", w.community_id)].overdue:
            flagged.append(w.community_id)
            assert sorted(n.unit_id for n in world.notices(w, "report_overdue")) == ["ys", w.community_id]
        else:
            assert world.notices(w, "report_overdue") == []
    assert len(flagged) == 1                       # only where the cooperating department has not reported
    assert _joint_ready(world, joint) == [("report_for_duty", "department", "ys-zjj")]


def test_r14_an_extension_in_a_joint_matter_needs_the_agreement_of_every_community(world):
    dispatched = local(2026, 9, 7, 10)
    joint, ws = _dispatched_joint(world, "多个社区反映雨污管网混接", dispatched, lead="ys-zjj", cooperating=())
    for _ in JOINT_COMMUNITIES:
        _joint_act(world, "bm-ys-zjj", "report_for_duty", {**REPORT, "visited_on": "2026-09-08"}, joint,
                   dispatched + timedelta(days=1))
    ask = {"outcome": "request_extension", "result": "需分段施工", "reply": "已申请延期。",
           "requested_due": "2026-12-30", "extension_reason": "涉及面广"}
    _joint_act(world, "bm-ys-zjj", "complete_matter", ask, joint, dispatched + timedelta(days=30))
    # the communities are asked one after the other, each in its own inbox
    first, second, third = JOINT_COMMUNITIES
    assert _joint_ready(world, joint) == [("extension_agree", "community", first)]
    _joint_act(world, f"sq-{first}", "extension_agree", {"decision": "agree"}, joint, dispatched + timedelta(days=31))
    assert _joint_ready(world, joint) == [("extension_agree", "community", second)]
    _joint_act(world, f"sq-{second}", "extension_agree", {"decision": "agree"}, joint, dispatched + timedelta(days=31))
    # one community refuses: no extension, back to the lead department
    _joint_act(world, f"sq-{third}", "extension_agree", {"decision": "refuse", "note": "居民急需解决"}, joint,
               dispatched + timedelta(days=32))
    assert _joint_ready(world, joint) == [("complete_matter", "department", "ys-zjj")]
    assert all(world.rows(Extension, w) == [] for w in ws)
    # asked again, every community agrees: the org department of the dispatching level approves
    _joint_act(world, "bm-ys-zjj", "complete_matter", ask, joint, dispatched + timedelta(days=33))
    for community in JOINT_COMMUNITIES:
        _joint_act(world, f"sq-{community}", "extension_agree", {"decision": "agree"}, joint,
                   dispatched + timedelta(days=34))
    assert _joint_ready(world, joint) == [("extension_approve", "district_org", "ys")]
    _joint_act(world, "zzb-ys", "extension_approve", {"decision": "approve"}, joint, dispatched + timedelta(days=35))
    assert _joint_ready(world, joint) == [("complete_matter", "department", "ys-zjj")]
    with world.factory() as session:
        from governance.calendar import iso
        from engine import runtime
        from engine.models import Instance
        data = runtime.instance_data(session, session.get(Instance, joint.instance_id))
        assert data["complete_due"].startswith("2026-12-30") or iso(data["complete_due"]).startswith("2026-12-30")
        assert all(session.get(Whistle, w.id).joint_id == joint.joint_no for w in ws)


def test_r08_r14_each_joint_whistle_records_the_leads_own_report_at_its_community(world):
    dispatched = local(2026, 10, 12, 10)
    joint, ws = _dispatched_joint(world, "多个社区反映夜间施工扰民", dispatched)
    for _ in range(3):                               # the cooperating department is there first
        _joint_act(world, "bm-ys-zjj", "report_for_duty", {**REPORT, "visited_on": "2026-10-13"}, joint,
                   dispatched + timedelta(days=1))
    lead_at = {}
    for n in range(3):
        item = [i for i in _joint_items(world, "bm-ys-cgj", joint) if i.task == "report_for_duty"][0]
        with world.factory() as session:
            from engine.models import InboxTask
            community = workspace.task_context(session, session.get(InboxTask, item.id))["duty_community_id"]
        lead_at[community] = dispatched + timedelta(days=2 + 3 * n)          # the last one is late
        world.complete("bm-ys-cgj", item.id, {**REPORT, "visited_on": lead_at[community].date().isoformat()},
                       at=lead_at[community])
    _joint_act(world, "bm-ys-cgj", "joint_consultation",
               {"held_on": "2026-10-20", "participant_ids": ["ys-zjj"], "work_split": "ys-zjj：夜查"}, joint,
               dispatched + timedelta(days=8, hours=1))
    _joint_act(world, "bm-ys-zjj", "cooperate", {"contribution": "夜间巡查"}, joint, dispatched + timedelta(days=9))
    _joint_act(world, "bm-ys-cgj", "complete_matter", {"outcome": "completed", "result": "已整改", "reply": "已解决。"},
               joint, dispatched + timedelta(days=10))
    late = max(lead_at, key=lead_at.get)
    for w in ws:
        row = world.whistle(w)
        assert row.reported_at == lead_at[w.community_id]                   # not the cooperating one's earlier visit
        assert row.report_overdue == (w.community_id == late)
        [consultation] = world.rows(JointConsultation, w)
        assert consultation.participant_ids == ["ys-zjj"]
