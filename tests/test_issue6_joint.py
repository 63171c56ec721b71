"""R14 joint matters and R15 standing mechanisms, driven through the REAL diagrams
(processes/whistle.bpmn, joint_matter.bpmn, dispatch.bpmn, handling.bpmn) with the engine."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.procedure_kit import local, world  # noqa: F401,F811  (module-scoped database per kind)

from engine import runtime  # noqa: E402
from engine.db import write_session  # noqa: E402
from engine.models import AuditEvent, InboxTask, Instance  # noqa: E402
from governance import joint as J  # noqa: E402
from governance.directory import org_unit_id  # noqa: E402
from governance.evaluations import register_mechanism  # noqa: E402
from governance.joint_assessment_models import JointLink, JointMatter  # noqa: E402
from governance.mechanisms_search import mechanisms_for_whistle, search_mechanisms  # noqa: E402
from governance.models import Evaluation, Notice, Survey, TaskOrder, Whistle  # noqa: E402

COMMUNITIES = ("hs-jfl-sq1", "hs-jfl-sq2", "hs-hdl-sq1")
GOOD = {"grade": "good", "timeliness": "good", "plan": "excellent", "result": "good", "attitude": "good",
        "opinion": "报到及时，办理认真"}


def ready(session, instance_id, task=None):
    stmt = select(InboxTask).where(InboxTask.instance_id == instance_id)
    if task:
        stmt = stmt.where(InboxTask.task == task)
    return list(session.scalars(stmt.order_by(InboxTask.unit_id, InboxTask.id)))


def do(world, instance_id, task, data, at, unit=None):
    """Complete the ready `task` of an instance (of `unit`, when given) with engine.runtime.complete."""
    with write_session(world.factory) as session:
        rows = [t for t in ready(session, instance_id, task) if unit is None or t.unit_id == unit]
        assert rows, (task, [(t.task, t.unit_id) for t in ready(session, instance_id)])
        instance = runtime.complete(session, rows[0].id, data, actor="test", now=at)
        assert instance.status != "incident", instance.incident
        return instance.status


def to_street_review(world, title, community, at, category="交通出行"):
    w = world.report(title, at=at, community_id=community, category=category,
                     description=f"{title}，居民出行不便")
    do(world, w.instance_id, "triage", {"route": "street", "reply": "已上报街道协调"}, at)
    do(world, w.instance_id, "street_coordinate",
       {"outcome": "start_procedure", "result": "需要职能部门解决", "reply": "街道已启动程序"}, at)
    return w


def test_r14_joint_matter_of_three_communities_yields_three_surveys_and_three_sets_of_evaluations(world):
    at = local(2026, 3, 2)
    ws = [to_street_review(world, "小区门口公交站点设置不合理", c, at) for c in COMMUNITIES]
    ids = [w.id for w in ws]
    with write_session(world.factory) as session:
        found = {c["whistle_id"] for c in J.suggest_candidates(session, ids[0])}
        assert set(ids[1:]) <= found                          # same category, similar text, other communities
        joint = J.open_joint_matter(session, ids, actor="zzb-hs", level="district",
                                    lead_department_id="hs-cgj", at=local(2026, 3, 3))
        joint_no, jinst = joint.joint_no, joint.instance_id
    with world.factory() as session:
        assert [l.linked_by for l in session.scalars(select(JointLink).where(JointLink.whistle_id.in_(ids)))] == ["zzb-hs"] * 3
        for wid in ids:
            w = session.get(Whistle, wid)
            assert w.joint_id == joint_no
            assert J._waiting_message(session, w)               # each whistle waits for joint_matter_closed
            assert not ready(session, w.instance_id)
        assert [t.task for t in ready(session, jinst)] == ["propose"]

    # one dispatch for the three communities (R5, R7, R13)
    do(world, jinst, "propose", {"decision": "consult", "lead_department_id": "hs-cgj",
                                 "cooperating_department_ids": ["hs-zjj"]}, local(2026, 3, 4))
    do(world, jinst, "consultation_reply", {"answer": "accept"}, local(2026, 3, 4, 11), unit="hs-cgj")
    do(world, jinst, "consultation_reply", {"answer": "accept"}, local(2026, 3, 4, 12), unit="hs-zjj")
    do(world, jinst, "confirm_dispatch", {"decision": "dispatch"}, local(2026, 3, 5))
    with write_session(world.factory) as session:
        orders = list(session.scalars(select(TaskOrder).where(TaskOrder.whistle_id.in_(ids)).order_by(TaskOrder.id)))
        assert len(orders) == 3 and len({o.order_no.rsplit("-", 1)[0] for o in orders}) == 1
        assert session.scalar(select(JointMatter).where(JointMatter.joint_no == joint_no)).status == "dispatched"
        with pytest.raises(J.JointError):                      # unlinking is possible before dispatch only
            J.unlink(session, joint_no, ids[0], actor="zzb-hs", reason="太晚了")
        assert session.scalar(select(func.count(Notice.id)).where(Notice.kind == "task_order",
                                                                  Notice.unit_id == "hs-cgj",
                                                                  Notice.text.contains(joint_no))) == 1

    # one handling (R8–R10): each department reports at each of the three communities (issue 9),
    # the lead convenes the cooperating department (R13), which then contributes
    for _ in range(2 * len(COMMUNITIES)):
        do(world, jinst, "report_for_duty", {"visited_on": "2026-03-06", "leader_name": "张科长",
                                             "leader_phone": "13800000000", "contact_name": "李干事",
                                             "contact_phone": "13900000000", "work_plan": "会同公交集团调整站点"},
           local(2026, 3, 6))
    do(world, jinst, "joint_consultation", {"held_on": "2026-03-07", "participant_ids": ["hs-zjj"],
                                            "work_split": "hs-zjj：提供道路改造方案"}, local(2026, 3, 7))
    do(world, jinst, "cooperate", {"contribution": "提供道路改造方案"}, local(2026, 3, 8), unit="hs-zjj")
    do(world, jinst, "complete_matter", {"outcome": "completed", "result": "站点已调整", "reply": "公交站点已调整"},
       local(2026, 4, 1))
    with world.factory() as session:
        assert session.get(Instance, jinst).status == "completed"
        assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.instance_id == jinst,
                                                                      AuditEvent.task == "propose")) == 1

    # every community surveys and evaluates on its own (R12, R16)
    for w in ws:
        do(world, w.instance_id, "satisfaction_survey",
           {"surveyed_on": "2026-04-02", "respondents": 20, "satisfied": 18, "basically_satisfied": 1,
            "dissatisfied": 1}, local(2026, 4, 2))
        with world.factory() as session:
            units = [t.unit_id for t in ready(session, w.instance_id)]
        for _ in units:
            with world.factory() as session:
                task = ready(session, w.instance_id, "evaluate_department")[0]
            with write_session(world.factory) as session:
                instance = runtime.complete(session, task.id, GOOD, actor="test", now=local(2026, 4, 3))
                assert instance.status != "incident", instance.incident
    with world.factory() as session:
        surveys = list(session.scalars(select(Survey).where(Survey.whistle_id.in_(ids))))
        assert sorted(s.whistle_id for s in surveys) == sorted(ids)
        evaluations = list(session.scalars(select(Evaluation).where(Evaluation.whistle_id.in_(ids))))
        assert sorted((e.whistle_id, e.department_id) for e in evaluations) == \
            sorted((wid, d) for wid in ids for d in ("hs-cgj", "hs-zjj"))
        for e in evaluations:
            w = session.get(Whistle, e.whistle_id)
            assert e.facts["task_order_no"] == w.task_order_no
            assert e.facts["role"] == ("lead" if e.department_id == "hs-cgj" else "cooperating")
            assert e.facts["report_overdue"] is False and e.facts["satisfaction_rate"] == 95.0
        for wid in ids:
            w = session.get(Whistle, wid)
            assert w.closed_at is not None and w.reported_at is not None and w.completed_at is not None
        record = J.joint_record(session, joint_no)
        assert record["status"] == "closed" and len(record["whistles"]) == 3
        assert all(l["delivered_at"] for l in record["links"])


def test_r14_unlink_before_dispatch_is_audited_and_returns_the_whistle_to_street_review(world):
    at = local(2026, 5, 4)
    ws = [to_street_review(world, "路灯不亮影响夜间出行", c, at, category="明灯") for c in COMMUNITIES]
    ids = [w.id for w in ws]
    with write_session(world.factory) as session:
        with pytest.raises(J.JointError):                      # R14: at least two communities
            J.open_joint_matter(session, ids[:1], actor="zzb-hs")
        joint = J.open_joint_matter(session, ids, actor="zzb-hs", at=local(2026, 5, 5))
        joint_no = joint.joint_no
    with write_session(world.factory) as session:
        J.unlink(session, joint_no, ids[2], actor="zzb-hs", reason="该社区问题已由供电公司处理", at=local(2026, 5, 6))
    with world.factory() as session:
        w = session.get(Whistle, ids[2])
        assert w.joint_id is None and w.stage == "street_review"
        assert [t.task for t in ready(session, w.instance_id)] == ["street_review"]
        record = J.joint_record(session, joint_no)
        assert [x["whistle_id"] for x in record["whistles"]] == ids[:2]
        gone = [l for l in record["links"] if l["whistle_id"] == ids[2]][0]
        assert gone["unlinked_by"] == "zzb-hs" and gone["unlink_reason"] == "该社区问题已由供电公司处理"
        assert gone["linked_by"] == "zzb-hs" and gone["unlinked_at"]
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == joint.instance_id)))
        assert "joint_open" in actions and "joint_unlink" in actions
    with write_session(world.factory) as session:              # linked again while still open
        J.link_whistle(session, joint_no, ids[2], actor="zzb-hs", at=local(2026, 5, 7))
    with world.factory() as session:
        assert len(J.linked_whistles(session, joint_no)) == 3
        assert J._waiting_message(session, session.get(Whistle, ids[2]))


def test_r15_standing_mechanisms_are_found_by_search_and_for_a_similar_whistle(world):
    w = world.report("小区周边小饭桌无证经营", at=local(2026, 6, 1), community_id="ys-am-sq1", category="市场秩序")
    with write_session(world.factory) as session:
        m = register_mechanism(session, title="校外小饭桌规范管理长效机制", document_no="马组通〔2026〕7号",
                               text="市场监管牵头，教育、消防配合，每季度联合检查小饭桌。",
                               lead_department_id="city-scjgj", cooperating_department_ids=["city-jyj"],
                               category="市场秩序")
        register_mechanism(session, title="城市道路照明维护机制", document_no=None, text="路灯巡查",
                           lead_department_id="city-cgj", category="明灯")
        mid = m.id
    with world.factory() as session:
        assert [r["id"] for r in search_mechanisms(session, "小饭桌")] == [mid]
        assert [r["id"] for r in search_mechanisms(session, category="市场秩序") if r["id"] == mid] == [mid]
        assert mid in [r["id"] for r in search_mechanisms(session, department="city-jyj")]
        assert mid not in [r["id"] for r in search_mechanisms(session, department="city-cgj")]
        found = mechanisms_for_whistle(session, w.id)
        assert found and found[0]["id"] == mid and "同一类别" in found[0]["reasons"]


def test_r10_a_missed_joint_deadline_is_flagged_and_notified_to_every_community_at_once(world):
    """R8/R10 in a joint matter (R14): when the lead department misses the report deadline, every
    linked whistle is flagged and its community notified then, once, not only when the matter closes."""
    at = local(2026, 5, 4)
    communities = COMMUNITIES[:2]
    ws = [to_street_review(world, "小区路段积水严重", c, at, category="城市管理") for c in communities]
    ids = [w.id for w in ws]
    with write_session(world.factory) as session:
        joint = J.open_joint_matter(session, ids, actor="zzb-hs", level="district",
                                    lead_department_id="hs-cgj", at=local(2026, 5, 5))
        jinst = joint.instance_id
    do(world, jinst, "propose", {"decision": "consult", "lead_department_id": "hs-cgj",
                                 "cooperating_department_ids": []}, local(2026, 5, 6))
    do(world, jinst, "consultation_reply", {"answer": "accept"}, local(2026, 5, 6, 11), unit="hs-cgj")
    do(world, jinst, "confirm_dispatch", {"decision": "dispatch"}, local(2026, 5, 7))
    with world.factory() as session:
        report_due = max(session.get(Whistle, wid).report_due for wid in ids)
        assert report_due is not None

    def overdue_notices(session):
        return sorted((n.unit_id, n.whistle_id) for n in session.scalars(
            select(Notice).where(Notice.kind == "report_overdue", Notice.whistle_id.in_(ids))))

    world.fire(report_due - J.timedelta(hours=1))
    with world.factory() as session:
        assert overdue_notices(session) == []
    for _ in range(2):                                     # a second sweep adds nothing
        world.fire(report_due + J.timedelta(hours=1))
        with world.factory() as session:
            assert session.get(JointMatter, joint.id).status == "dispatched"       # still being handled
            assert all(session.get(Whistle, wid).report_overdue for wid in ids)
            notices = overdue_notices(session)
            for wid, community in zip(ids, communities):
                assert (community, wid) in notices                                   # each community hears of it
                assert (org_unit_id("district", "hs"), wid) in notices               # and the org department
            assert len(notices) == 2 * len(ids)
