"""R14 in real use: every task of a joint matter (its own, and those of the dispatch and handling
it calls) reaches the officers of exactly one unit, found in their inboxes: the org department
that coordinates the matter (district or city), the same-level org department for an extension,
the long-term-mechanism task. A cancelled joint matter releases its whistles back to their streets.

The joint matter is walked through the officers' inboxes (tests/procedure_kit.py World) on SQLite
and PostgreSQL; each test reports its own whistles."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.procedure_kit import REPORT, local, world  # noqa: F401  (session-scoped database per kind)

from engine import admin  # noqa: E402
from engine.clock import frozen_at  # noqa: E402
from engine.db import write_session  # noqa: E402
from engine.models import InboxTask, Instance  # noqa: E402
from governance import joint as J  # noqa: E402
from governance import workspace  # noqa: E402
from governance.joint_assessment_models import JointLink, JointMatter  # noqa: E402
from governance.models import Notice, Officer, Whistle  # noqa: E402


# -- helpers -----------------------------------------------------------------------------------

def whistles_at_street_review(world, title, communities, at, category="交通出行"):
    out = []
    for n, community in enumerate(communities):
        w = world.report(title, at=at + timedelta(minutes=n), community_id=community, category=category,
                         description=f"{title}，居民反映强烈")
        world.to_street_review(w, at + timedelta(hours=1))
        out.append(world.whistle(w))
    return out


def who_sees(world, joint, at=None) -> dict[str, set[str]]:
    """{ready task id: the usernames of the non-admin officers whose inbox shows it}."""
    with world.factory() as session:
        rows = list(session.scalars(select(InboxTask).where(InboxTask.instance_id == joint.instance_id)))
        officers = list(session.scalars(select(Officer).where(Officer.active.is_(True),
                                                              Officer.role.in_({r.role for r in rows}))))
        seen: dict[str, set[str]] = {r.id: set() for r in rows}
        with frozen_at(at):
            for officer in officers:
                for task in {r.task for r in rows}:
                    for item in workspace.inbox(session, officer, task=task, per_page=200).items:
                        if item.id in seen:
                            seen[item.id].add(officer.username)
    return seen


def assert_every_task_reaches_one_unit(world, joint, at=None) -> dict[str, set[str]]:
    """R14: no orphan task: each ready task of the joint matter is in the inbox of at least one
    officer, and all officers who see it belong to one unit. → {task: units}."""
    seen = who_sees(world, joint, at)
    with world.factory() as session:
        rows = {r.id: r for r in session.scalars(select(InboxTask).where(InboxTask.instance_id == joint.instance_id))}
        units = {name: session.scalar(select(Officer.unit_id).where(Officer.username == name))
                 for names in seen.values() for name in names}
    out: dict[str, set[str]] = {}
    for task_id, names in seen.items():
        row = rows[task_id]
        assert names, f"orphan task {row.task} ({row.role}, unit {row.unit_id}) of {joint.joint_no}"
        assert len({units[n] for n in names}) == 1, (row.task, names)
        out.setdefault(row.task, set()).add(units[next(iter(names))])
    return out


def do_all(world, joint, task, data, at):
    """Every ready `task` of the joint matter (also those it readies in turn, e.g. one per
    community), each done by an officer whose inbox shows it."""
    for n in range(20):
        seen = who_sees(world, joint, at)
        with world.factory() as session:
            ids = [r.id for r in session.scalars(select(InboxTask).where(InboxTask.instance_id == joint.instance_id,
                                                                         InboxTask.task == task))]
        if not ids:
            assert n, (task, world.joint_ready(joint))
            return
        for task_id in ids:
            assert seen[task_id], f"orphan task {task} of {joint.joint_no}"
            world.complete(sorted(seen[task_id])[0], task_id, dict(data), at=at)
    raise AssertionError(f"{task} keeps coming back")


def joint_row(world, joint) -> JointMatter:
    with world.factory() as session:
        row = session.get(JointMatter, joint.id)
        session.expunge(row)
        return row


def work_until(world, joint, until, at):
    """The departments do their handling tasks (report for duty — each wherever handling asks it —,
    the joint consultation, cooperation), each through an inbox and each checked to reach one
    unit, until the lead's `until` task is ready."""
    coop = joint_row(world, joint).cooperating_department_ids or []
    data = {"report_for_duty": {**REPORT, "visited_on": at.date().isoformat()},
            "joint_consultation": {"held_on": at.date().isoformat(), "participant_ids": coop,
                                   "work_split": "牵头部门负责方案，配合部门按职能配合。"},
            "cooperate": {"contribution": "按分工完成配合工作"}}
    for _ in range(20):
        ready = [t for t, _role, _unit in world.joint_ready(joint)]
        if until in ready:
            return
        assert_every_task_reaches_one_unit(world, joint, at)
        todo = [t for t in ready if t in data]
        assert todo, (until, ready)
        do_all(world, joint, todo[0], data[todo[0]], at)
    raise AssertionError(f"{until} never became ready")


def dispatch_joint(world, joint, at, *, org, lead, cooperating=()):
    world.act_joint(org, "propose", {"decision": "consult", "lead_department_id": lead,
                                     "cooperating_department_ids": list(cooperating)}, joint, at=at)
    assert assert_every_task_reaches_one_unit(world, joint, at)["consultation_reply"] == {lead, *cooperating}
    do_all(world, joint, "consultation_reply", {"answer": "accept"}, at + timedelta(hours=1))
    world.act_joint(org, "confirm_dispatch", {"decision": "dispatch"}, joint, at=at + timedelta(hours=2))


# -- every task reaches its unit -------------------------------------------------------------

def test_r14_every_task_of_a_district_joint_matter_reaches_one_unit_through_the_inboxes(world):
    ws = whistles_at_street_review(world, "小区门口公交站点设置不合理", ("hs-jfl-sq1", "hs-jfl-sq2", "hs-hdl-sq1"),
                                   local(2026, 3, 2))
    joint = world.open_joint(ws, at=local(2026, 3, 3), actor="zzb-hs", lead_department_id="hs-cgj")
    # the org department that owns the matter sees its proposal (it reached nobody before)
    assert world.joint_ready(joint) == [("propose", "district_org", "hs")]
    assert assert_every_task_reaches_one_unit(world, joint) == {"propose": {"hs"}}
    assert [i.task for i in world.joint_inbox("zzb-hs", joint)] == ["propose"]
    assert world.joint_inbox("zzb-ys", joint) == [] and world.joint_inbox("zzb-mas", joint) == []

    world.act_joint("zzb-hs", "propose", {"decision": "consult", "lead_department_id": "hs-cgj",
                                          "cooperating_department_ids": ["hs-zjj"]}, joint, at=local(2026, 3, 4))
    assert assert_every_task_reaches_one_unit(world, joint) == {"consultation_reply": {"hs-cgj", "hs-zjj"}}
    do_all(world, joint, "consultation_reply", {"answer": "accept"}, local(2026, 3, 4, 11))
    assert assert_every_task_reaches_one_unit(world, joint) == {"confirm_dispatch": {"hs"}}
    world.act_joint("zzb-hs", "confirm_dispatch", {"decision": "dispatch"}, joint, at=local(2026, 3, 5))

    work_until(world, joint, "complete_matter", local(2026, 3, 6))
    world.act_joint("bm-hs-cgj", "complete_matter",
                    {"outcome": "request_extension", "requested_due": "2026-08-31", "extension_reason": "涉及线路调整",
                     "result": "正在协调公交集团", "reply": "正在协调，需延期办结。"}, joint, at=local(2026, 3, 20))
    units = assert_every_task_reaches_one_unit(world, joint)
    assert set(units) == {"extension_agree"} and units["extension_agree"] <= {"hs-jfl-sq1", "hs-jfl-sq2", "hs-hdl-sq1"}
    do_all(world, joint, "extension_agree", {"decision": "agree", "note": "同意延期"}, local(2026, 3, 21))
    # R11: the extension is approved by the org department of the same level
    assert assert_every_task_reaches_one_unit(world, joint) == {"extension_approve": {"hs"}}
    world.act_joint("zzb-hs", "extension_approve", {"decision": "approve", "note": "同意"}, joint, at=local(2026, 3, 22))
    assert assert_every_task_reaches_one_unit(world, joint) == {"complete_matter": {"hs-cgj"}}
    world.act_joint("bm-hs-cgj", "complete_matter",
                    {"outcome": "long_term", "result": "形成公交站点动态调整机制", "reply": "已建立长效机制。"}, joint,
                    at=local(2026, 4, 20))
    # R15: the long-term mechanism is written by the org department that owns the matter
    assert assert_every_task_reaches_one_unit(world, joint) == {"long_term_mechanism": {"hs"}}
    world.act_joint("zzb-hs", "long_term_mechanism",
                    {"document_title": "公交站点动态调整机制", "document_no": "花组通〔2026〕3号",
                     "lead_department_id": "hs-cgj", "cooperating_department_ids": ["hs-zjj"],
                     "text": "每季度会商一次公交站点设置。"}, joint, at=local(2026, 4, 22))
    assert joint_row(world, joint).status == "closed"
    for w in ws:                                  # each community goes on with its own survey (R12)
        assert "satisfaction_survey" in [i.task for i in world.inbox(f"sq-{w.community_id}", w)]


def test_r14_a_city_joint_matter_reaches_the_city_org_department(world):
    ws = whistles_at_street_review(world, "跨区主干道路灯不亮", ("hs-jfl-sq1", "ys-am-sq1"), local(2026, 5, 4),
                                   category="明灯")
    joint = world.open_joint(ws, at=local(2026, 5, 5), actor="zzb-mas", level="city")
    assert world.joint_ready(joint) == [("propose", "city_org", "mas")]
    assert [i.task for i in world.joint_inbox("zzb-mas", joint)] == ["propose"]
    assert world.joint_inbox("zzb-hs", joint) == []
    dispatch_joint(world, joint, local(2026, 5, 6), org="zzb-mas", lead="city-gdgs", cooperating=["city-cgj"])
    work_until(world, joint, "complete_matter", local(2026, 5, 7))
    world.act_joint("bm-city-gdgs", "complete_matter",
                    {"outcome": "request_extension", "requested_due": "2026-09-30", "extension_reason": "需更换电缆",
                     "result": "已排查", "reply": "需延期。"}, joint, at=local(2026, 5, 20))
    do_all(world, joint, "extension_agree", {"decision": "agree", "note": "同意"}, local(2026, 5, 21))
    # R11: a city matter's extension is approved by the city org department
    assert assert_every_task_reaches_one_unit(world, joint) == {"extension_approve": {"mas"}}
    assert [i.task for i in world.joint_inbox("zzb-mas", joint)] == ["extension_approve"]


def test_r14_an_escalated_joint_matter_goes_to_the_city_org_department(world):
    """R6 in a joint matter: the district cannot solve it, the district meeting escalates, and the
    city org department (not the district one, not nobody) proposes the new dispatch."""
    ws = whistles_at_street_review(world, "铁路道口拥堵", ("hs-jfl-sq1", "hs-hdl-sq1"), local(2026, 6, 1))
    joint = world.open_joint(ws, at=local(2026, 6, 2), actor="zzb-hs")
    dispatch_joint(world, joint, local(2026, 6, 3), org="zzb-hs", lead="hs-jtj")
    work_until(world, joint, "complete_matter", local(2026, 6, 4))
    world.act_joint("bm-hs-jtj", "complete_matter",
                    {"outcome": "cannot_solve", "result": "涉及铁路部门", "reply": "已提请上报市级。"}, joint,
                    at=local(2026, 6, 20))
    assert assert_every_task_reaches_one_unit(world, joint) == {"district_meeting": {"hs"}}
    world.act_joint("zzb-hs", "district_meeting", {"meeting_date": "2026-06-22", "decision": "escalate",
                                                   "minutes": "同意上报市委组织部"}, joint, at=local(2026, 6, 22))
    assert world.joint_ready(joint) == [("propose", "city_org", "mas")]
    assert assert_every_task_reaches_one_unit(world, joint) == {"propose": {"mas"}}
    assert world.joint_inbox("zzb-hs", joint) == []


def test_r14_joint_matters_started_without_their_org_unit_are_repaired(world):
    """A joint matter started before its data named the org department: its proposal reached
    nobody. `repair` finds such tasks and gives them to the right unit (audited)."""
    ws = whistles_at_street_review(world, "小区周边夜市噪声扰民", ("hs-jfl-sq1", "hs-jfl-sq2"), local(2026, 7, 6))
    joint = world.open_joint(ws, at=local(2026, 7, 7), actor="zzb-hs")
    with write_session(world.factory) as session:        # the instance as the old code started it
        admin.suspend(session, joint.instance_id, reason="test: old data", actor="test")
        admin.edit_data(session, joint.instance_id, {}, remove=["org_unit_id"], reason="test: old data", actor="test")
        admin.resume(session, joint.instance_id, reason="test: old data", actor="test")
    assert world.joint_ready(joint) == [("propose", "district_org", None)]
    assert world.joint_inbox("zzb-hs", joint) == []
    with world.factory() as session:
        assert [t.instance_id for t in J.orphan_tasks(session) if t.instance_id == joint.instance_id] == [joint.instance_id]
    with write_session(world.factory) as session:
        result = J.repair(session, actor="system")
    assert joint.joint_no in result["repaired"]
    assert assert_every_task_reaches_one_unit(world, joint) == {"propose": {"hs"}}
    with world.factory() as session:
        assert not [t for t in J.orphan_tasks(session) if t.instance_id == joint.instance_id]
        assert session.get(Instance, joint.instance_id).status == "running"
    world.act_joint("zzb-hs", "propose", {"decision": "consult", "lead_department_id": "hs-cgj",
                                          "cooperating_department_ids": []}, joint, at=local(2026, 7, 8))


# -- a cancelled joint matter releases its whistles --------------------------------------------

def _released(world, ws, joint, reason):
    for w in ws:
        row = world.whistle(w)
        assert row.joint_id is None and row.stage == "street_review" and row.task_order_no is None
        # back to its street: the street officer finds the review in the inbox again
        assert [i.task for i in world.inbox(f"jd-{row.street_id}", w)] == ["street_review"]
        assert any(reason in (e.text or "") and joint.joint_no in (e.text or "") for e in world.events(w))
        assert any(joint.joint_no in n.text for n in world.notices(w, "joint_cancelled") if n.unit_id == row.street_id)
    links = world.rows(JointLink, None, JointLink.joint_id == joint.id)
    assert links and all(l.unlinked_at is not None and reason in l.unlink_reason for l in links)
    assert joint_row(world, joint).status == "cancelled"


def test_r14_a_cancelled_joint_matter_sends_its_whistles_back_to_their_streets(world):
    ws = whistles_at_street_review(world, "小区电动车充电桩不足", ("hs-jfl-sq1", "hs-jfl-sq2", "hs-hdl-sq1"),
                                   local(2026, 8, 3))
    joint = world.open_joint(ws, at=local(2026, 8, 4), actor="zzb-hs")
    dispatch_joint(world, joint, local(2026, 8, 5), org="zzb-hs", lead="hs-zjj")
    assert all(world.whistle(w).task_order_no for w in ws)
    with write_session(world.factory) as session, frozen_at(local(2026, 8, 10)):
        released = J.cancel(session, joint.joint_no, actor="zzb-hs", reason="已纳入全市充电设施规划统一建设")
    assert sorted(released) == sorted(w.id for w in ws)
    assert world.joint_ready(joint) == []
    with world.factory() as session:
        assert session.get(Instance, joint.instance_id).status == "cancelled"
    _released(world, ws, joint, "已纳入全市充电设施规划统一建设")
    # the street reviews again and may start the procedure for its own whistle
    w = ws[0]
    world.start_procedure(w, local(2026, 8, 11))
    assert world.ready(w) == [("propose", "district_org", "hs")]


def test_r14_a_joint_matter_cancelled_by_an_administrator_releases_its_whistles(world):
    from webapp.policy import run_action
    ws = whistles_at_street_review(world, "小区垃圾分类亭损坏", ("hs-jfl-sq1", "hs-hdl-sq1"), local(2026, 9, 7),
                                   category="市容环境")
    joint = world.open_joint(ws, at=local(2026, 9, 8), actor="zzb-hs")
    with write_session(world.factory) as session, frozen_at(local(2026, 9, 9)):
        run_action(session, joint.instance_id, "cancel", {"reason": "重复立项"}, "admin")
    _released(world, ws, joint, "重复立项")

    # a joint matter whose instance was cancelled before this rule existed is released by repair
    ws = whistles_at_street_review(world, "小区垃圾清运不及时", ("hs-jfl-sq2", "hs-hdl-sq1"), local(2026, 9, 14),
                                   category="市容环境")
    joint = world.open_joint(ws, at=local(2026, 9, 15), actor="zzb-hs")
    with write_session(world.factory) as session:
        admin.cancel(session, joint.instance_id, reason="旧版本取消", actor="admin")
    assert all(world.whistle(w).joint_id == joint.joint_no for w in ws)     # waiting for ever, until repaired
    with write_session(world.factory) as session:
        assert joint.joint_no in J.repair(session, actor="system")["released"]
    _released(world, ws, joint, "共性问题的流程已被取消")


def test_r14_only_an_open_joint_matter_can_be_cancelled_and_only_with_a_reason(world):
    ws = whistles_at_street_review(world, "小区门前道路破损", ("hs-jfl-sq1", "hs-hdl-sq1"), local(2026, 10, 5))
    joint = world.open_joint(ws, at=local(2026, 10, 6), actor="zzb-hs")
    with write_session(world.factory) as session:
        try:
            J.cancel(session, joint.joint_no, actor="zzb-hs", reason="  ")
        except J.JointError as exc:
            assert "原因" in str(exc)
        else:
            raise AssertionError("a cancellation without a reason was accepted")
    assert joint_row(world, joint).status == "open"
    assert world.joint_ready(joint) == [("propose", "district_org", "hs")]
    assert all(world.whistle(w).joint_id == joint.joint_no for w in ws)
    with world.factory() as session:
        assert not session.scalars(select(Notice).where(Notice.kind == "joint_cancelled",
                                                        Notice.whistle_id.in_([w.id for w in ws]))).all()
        assert all(session.get(Whistle, w.id).stage == "dispatch" for w in ws)
