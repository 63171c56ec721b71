"""Driving the REAL procedure as stories: the deployed processes/ diagrams, forms/ and handlers/,
through the system's own API (governance.register, governance.workspace, engine.timers), with the
clock under the test's control, on SQLite and (with TEST_POSTGRES_URL) PostgreSQL.

The officers' path is the tested path: a task is only ever completed by an officer who found it in
their inbox (`workspace.inbox`, the query of the web inbox and the API), and after every step
(report, completion, timer sweep) `check_reachable` fails the story on any ready task that no
officer of exactly one unit of its role can find there ("orphan task").

    def test_r02_local(world):
        w = world.report("路灯不亮", at=NOV_2)                        # a grid worker's patrol report
        world.act(f"sq-{w.community_id}", "triage", {...}, w, at=...)  # the community triages
        world.fire(at)                                                 # the timer worker's sweep

One database per kind for the run (directory + demo officers + one deployment); every test
reports its own whistles and only looks at their rows. `fire` sweeps the whole database as the
timer worker does, so it may also move other tests' leftover whistles: never assert on those.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from webapp.system import load_plugins

load_plugins()  # handlers, roles and the form resolver, as the web app and the worker have them

from engine import runtime, timers  # noqa: E402
from engine.clock import frozen_at  # noqa: E402
from engine.db import write_session  # noqa: E402
from engine.models import InboxTask, Instance, Timer  # noqa: E402
from governance import register, workspace  # noqa: E402
from governance.calendar import TZ  # noqa: E402
from governance.models import Notice, Officer, Whistle, WhistleEvent  # noqa: E402
from tests.conftest import scratch_database  # noqa: E402
from tests.webkit import prepare_database  # noqa: E402


def local(y, m, d, hh=9, mm=0) -> datetime:
    """An instant in Ma'anshan (Asia/Shanghai)."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


# -- the database ---------------------------------------------------------------------------------

@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    """A database with the demo directory and officers and processes/ deployed with forms/: one
    per database kind for the whole run (set up once; every test reports its own whistles and
    only looks at their rows, so the tests stay independent of each other and of their order)."""
    with scratch_database(request.param, tmp_path_factory.mktemp("rules")) as url:
        factory = prepare_database(url)
        try:
            yield World(factory, request.param)
        finally:
            factory.kw["bind"].dispose()


# -- the story API -------------------------------------------------------------------------------

class OrphanTask(AssertionError):
    """A ready task that no officer of exactly one unit of its role finds in their inbox."""


class World:
    def __init__(self, factory, kind: str):
        self.factory, self.kind = factory, kind
        self._reachable: set[str] = set()       # ready tasks already found in an officer's inbox

    # the officers' path: after every step, every ready task must reach an officer
    def check_reachable(self, at: datetime | None = None) -> None:
        """Every ready task of a running instance is visible to officers of exactly one unit of its
        role (administrators aside), and listed in such an officer's inbox — the query behind the web
        inbox and GET /api/v1/tasks. Raises OrphanTask otherwise."""
        with self.factory() as session, frozen_at(at):
            rows = session.scalars(select(InboxTask).join(Instance, Instance.id == InboxTask.instance_id)
                                   .where(Instance.status.in_(runtime.ACTIVE))).all()
            officers: dict[str, list[Officer]] = {}
            for task in rows:
                if task.id in self._reachable:
                    continue
                where = f"ready task {task.task!r} ({task.name}) of instance {task.instance_id}, role {task.role!r}, unit {task.unit_id!r}"
                if task.role not in officers:
                    officers[task.role] = list(session.scalars(
                        select(Officer).where(Officer.role == task.role, Officer.active.is_(True))))
                units = {o.unit_id for o in officers[task.role] if workspace.may_do(o, task)}
                if len(units) != 1:
                    raise OrphanTask(f"orphan task: {where} is visible to officers of {len(units)} units {sorted(map(str, units))}")
                if not any(self._listed(session, o, task) for o in officers[task.role] if o.unit_id in units):
                    raise OrphanTask(f"orphan task: {where} is in no officer's inbox")
                self._reachable.add(task.id)

    @staticmethod
    def _listed(session, officer, task) -> bool:
        page, pages = 1, 1
        while page <= pages:
            listed = workspace.inbox(session, officer, task=task.task, per_page=200, page=page)
            if any(item.id == task.id for item in listed.items):
                return True
            page, pages = page + 1, listed.pages
        return False

    # people
    def officer(self, username: str) -> Officer:
        with self.factory() as session:
            officer = session.scalar(select(Officer).where(Officer.username == username))
            assert officer is not None, f"no demo officer {username}"
            session.expunge(officer)
            return officer

    # R1: intake
    def report(self, title: str, *, at: datetime, community_id: str = "hs-jfl-sq1",
               category: str | None = None, source: str = "patrol", reporter: str | None = None,
               description: str | None = None, location: str | None = None) -> Whistle:
        """A grid worker's patrol report (or a residents'-platform report with source='platform')
        addressed to `community_id`, registered at `at`."""
        actor = f"wg-{community_id}" if source == "patrol" else "platform"
        with write_session(self.factory) as session, frozen_at(at):
            w = register.report_whistle(session, title=title, description=description or title,
                                        category=category, community_id=community_id,
                                        location=location or "示例路 1 号", reporter=reporter or "网格员",
                                        source=source, actor=actor)
            session.flush()
            session.expunge(w)
        self.check_reachable(at)
        return w

    # reading
    def whistle(self, w) -> Whistle:
        with self.factory() as session:
            row = session.get(Whistle, w.id if isinstance(w, Whistle) else int(w))
            session.expunge(row)
            return row

    def rows(self, model, w=None, *where, order=None):
        """Rows of `model` (of whistle `w` when given)."""
        with self.factory() as session:
            stmt = select(model)
            if w is not None:
                stmt = stmt.where(model.whistle_id == (w.id if isinstance(w, Whistle) else int(w)))
            for cond in where:
                stmt = stmt.where(cond)
            stmt = stmt.order_by(order if order is not None else model.id)
            out = list(session.scalars(stmt))
            for row in out:
                session.expunge(row)
            return out

    def notices(self, w, kind: str | None = None) -> list[Notice]:
        return self.rows(Notice, w, *( [Notice.kind == kind] if kind else []))

    def events(self, w) -> list[WhistleEvent]:
        return self.rows(WhistleEvent, w)

    def instance(self, w) -> Instance:
        with self.factory() as session:
            inst = session.get(Instance, self.whistle(w).instance_id)
            session.expunge(inst)
            return inst

    def data(self, w) -> dict:
        with self.factory() as session:
            return runtime.instance_data(session, session.get(Instance, self.whistle(w).instance_id))

    def ready(self, w) -> list[tuple[str, str | None, str | None]]:
        """(task, role, unit) of the whistle's ready tasks, sorted."""
        with self.factory() as session:
            rows = session.scalars(select(InboxTask).where(InboxTask.instance_id == self.whistle(w).instance_id))
            return sorted((t.task, t.role, t.unit_id) for t in rows)

    def timers(self, w) -> list[tuple[str, datetime]]:
        """(task, due instant) of the whistle's waiting timers, sorted by due."""
        with self.factory() as session:
            rows = session.scalars(select(Timer).where(Timer.instance_id == self.whistle(w).instance_id))
            return sorted(((t.task, _aware(t.due_at)) for t in rows), key=lambda x: x[1])

    def inbox(self, username: str, w=None, *, at: datetime | None = None) -> list:
        """The TaskItems in `username`'s inbox (of whistle `w` when given)."""
        officer = self.officer(username)
        with self.factory() as session, frozen_at(at):
            page = workspace.inbox(session, officer, per_page=200)
            items = page.items
        if w is not None:
            wid = w.id if isinstance(w, Whistle) else int(w)
            items = [i for i in items if i.whistle_id == wid]
        return items

    # acting
    def task_id(self, username: str, task: str, w, *, at: datetime | None = None, index: int = 0) -> str:
        """The id of `username`'s ready `task` of whistle `w` (found in their inbox)."""
        found = [i for i in self.inbox(username, w, at=at) if i.task == task]
        assert found, (f"{username} has no ready {task!r} for whistle {w.id}; "
                       f"ready: {self.ready(w)}; incident: {self.instance(w).incident}")
        return sorted(found, key=lambda i: i.id)[index].id if index else found[0].id

    def act(self, username: str, task: str, data: dict, w, *, at: datetime):
        """`username` completes their ready `task` of whistle `w` with form `data` at `at`
        (workspace.task_for + workspace.complete_task, one transaction)."""
        task_id = self.task_id(username, task, w, at=at)
        return self.complete(username, task_id, data, at=at)

    def complete(self, username: str, task_id: str, data: dict, *, at: datetime):
        officer = self.officer(username)
        with write_session(self.factory) as session, frozen_at(at):
            workspace.task_for(session, officer, task_id)
            instance = workspace.complete_task(session, officer, task_id, data)
            assert instance.status != "incident", instance.incident
            status = instance.status
        self.check_reachable(at)
        return status

    def fire(self, at: datetime):
        """The timer worker's sweep at `at`."""
        with frozen_at(at):
            result = timers.sweep(self.factory, now=at)
        assert not result.incidents, [self.instance_by_id(i).incident for i in result.incidents]
        self.check_reachable(at)
        return result

    def instance_by_id(self, instance_id: int) -> Instance:
        with self.factory() as session:
            return session.get(Instance, instance_id)


    # -- story steps shared by many tests (each one real task completion by the right officer) --

    def to_street_review(self, w, at: datetime):
        """R2: the community sends the whistle to the street, which asks for the procedure."""
        self.act(f"sq-{w.community_id}", "triage", {"route": "street", "reply": "已上报街道协调。"}, w, at=at)
        self.act(f"jd-{w.street_id}", "street_coordinate",
                 {"outcome": "start_procedure", "result": "需市、区直部门解决", "reply": "街道已提请启动吹哨程序。"},
                 w, at=at + timedelta(hours=1))

    def start_procedure(self, w, at: datetime, *, urgency=2, complexity=2, lead="hs-cgj", cooperating=(),
                        category="市容环境"):
        """R4: the street reviews, grades and starts the procedure (to the district org department)."""
        self.act(f"jd-{w.street_id}", "street_review",
                 {"decision": "start_procedure", "category": category, "urgency": urgency,
                  "complexity": complexity, "lead_department_id": lead,
                  "cooperating_department_ids": list(cooperating), "opinion": "确需部门解决"}, w, at=at)

    def propose(self, w, at: datetime, *, lead="hs-cgj", cooperating=(), org=None):
        org = org or f"zzb-{w.district_id}"
        self.act(org, "propose", {"decision": "consult", "lead_department_id": lead,
                                  "cooperating_department_ids": list(cooperating)}, w, at=at)

    def dispatch(self, w, at: datetime, *, lead="hs-cgj", cooperating=(), org=None):
        """R5/R7: propose, every proposed department accepts, the org department dispatches at `at`
        (the district's org department unless `org` names another)."""
        org = org or f"zzb-{w.district_id}"
        self.propose(w, at - timedelta(hours=3), lead=lead, cooperating=cooperating, org=org)
        for dept in [lead, *cooperating]:
            self.act(f"bm-{dept}", "consultation_reply", {"answer": "accept"}, w, at=at - timedelta(hours=2))
        self.act(org, "confirm_dispatch", {"decision": "dispatch"}, w, at=at)

    def to_handling(self, w, dispatched_at: datetime, *, lead="hs-cgj", cooperating=(), urgency=2, complexity=2):
        """Report → street → procedure → district dispatch at `dispatched_at`."""
        self.to_street_review(w, dispatched_at - timedelta(days=3))
        self.start_procedure(w, dispatched_at - timedelta(days=2), urgency=urgency, complexity=complexity,
                             lead=lead, cooperating=cooperating)
        self.dispatch(w, dispatched_at, lead=lead, cooperating=cooperating)

    def report_for_duty(self, w, at: datetime, dept="hs-cgj", **changes):
        self.act(f"bm-{dept}", "report_for_duty", {**REPORT, "visited_on": at.date().isoformat(), **changes}, w, at=at)

    def complete_matter(self, w, at: datetime, dept="hs-cgj", **fields):
        data = {"outcome": "completed", "result": "已整改到位", "reply": "问题已解决，感谢监督。", **fields}
        self.act(f"bm-{dept}", "complete_matter", data, w, at=at)

    def survey(self, w, at: datetime, respondents=10, satisfied=8, basically=1, dissatisfied=1):
        self.act(f"sq-{w.community_id}", "satisfaction_survey",
                 {"surveyed_on": at.date().isoformat(), "respondents": respondents, "satisfied": satisfied,
                  "basically_satisfied": basically, "dissatisfied": dissatisfied}, w, at=at)

    def evaluate_all(self, w, at: datetime, grades: dict | None = None):
        """R16: the community evaluates every involved department (its own task each)."""
        username = f"sq-{w.community_id}"
        for item in self.inbox(username, w):
            if item.task != "evaluate_department":
                continue
            with self.factory() as session:
                dept = workspace.task_context(session, session.get(InboxTask, item.id))["department_id"]
            grade = (grades or {}).get(dept, "good")
            self.complete(username, item.id, {"grade": grade, "timeliness": grade, "plan": grade, "result": grade,
                                              "attitude": grade, "opinion": f"{dept} 评价意见"}, at=at)

    # -- joint matters (R14): their tasks belong to the joint_matter instance, not to one whistle --

    def open_joint(self, whistles, *, at: datetime, actor: str = "zzb-hs", level: str = "district", **options):
        """R14: `actor` opens a joint matter from `whistles` (each waiting in its street review), as
        the /joint page does (governance.joint.open_joint_matter) → the JointMatter row."""
        from governance import joint as joints
        with write_session(self.factory) as session, frozen_at(at):
            joint = joints.open_joint_matter(session, [w.id for w in whistles], actor=actor, level=level,
                                             at=at, **options)
            session.flush()
            session.expunge(joint)
        self.check_reachable(at)
        return joint

    def joint_inbox(self, username: str, joint, *, at: datetime | None = None) -> list:
        """The TaskItems of `joint`'s instance in `username`'s inbox."""
        officer = self.officer(username)
        with self.factory() as session, frozen_at(at):
            items = [i for t in {r.task for r in self._joint_rows(session, joint)}
                     for i in workspace.inbox(session, officer, task=t, per_page=200).items]
        return [i for i in items if i.instance_id == joint.instance_id]

    def joint_ready(self, joint) -> list[tuple[str, str | None, str | None]]:
        """(task, role, unit) of the joint matter's ready tasks, sorted."""
        with self.factory() as session:
            return sorted((t.task, t.role, t.unit_id) for t in self._joint_rows(session, joint))

    def act_joint(self, username: str, task: str, data: dict, joint, *, at: datetime):
        """`username` completes their ready `task` of joint matter `joint` (found in their inbox)."""
        found = [i for i in self.joint_inbox(username, joint, at=at) if i.task == task]
        assert found, f"{username} has no ready {task!r} of joint matter {joint.joint_no}; ready: {self.joint_ready(joint)}"
        return self.complete(username, found[0].id, data, at=at)

    @staticmethod
    def _joint_rows(session, joint) -> list:
        return list(session.scalars(select(InboxTask).where(InboxTask.instance_id == joint.instance_id)))

    # -- handling (issue 9: R8 every department reports, R13 the joint consultation) --

    def report_all(self, w, at: datetime, departments=("hs-cgj",), **changes):
        """R8: each of `departments` reports for duty at the whistle's community at `at`."""
        for dept in departments:
            self.report_for_duty(w, at, dept=dept, **changes)

    def consult(self, w, at: datetime, lead="hs-cgj", participants=(), split: str | None = None, **fields):
        """R13: the lead department records its joint consultation with the cooperating `participants`."""
        data = {"held_on": at.date().isoformat(), "participant_ids": list(participants),
                "work_split": split or "\n".join(f"{d}：配合现场整改" for d in participants), **fields}
        self.act(f"bm-{lead}", "joint_consultation", data, w, at=at)

    def cooperate_all(self, w, at: datetime, departments=()):
        for dept in departments:
            self.act(f"bm-{dept}", "cooperate", {"contribution": f"{dept} 已按分工完成"}, w, at=at)

    def to_complete_matter(self, w, dispatched: datetime, *, lead="hs-cgj", cooperating=(), **kw):
        """Dispatch at `dispatched`; every department reports two days later; with cooperating
        departments the lead consults them on day 3 and they cooperate on day 4."""
        self.to_handling(w, dispatched, lead=lead, cooperating=cooperating, **kw)
        self.report_all(w, dispatched + timedelta(days=2), [lead, *cooperating])
        if cooperating:
            self.consult(w, dispatched + timedelta(days=3), lead=lead, participants=cooperating)
            self.cooperate_all(w, dispatched + timedelta(days=4), cooperating)


REPORT = {"leader_name": "王分管", "leader_phone": "13855551234", "contact_name": "李联络",
          "contact_phone": "0555-2345678", "work_plan": "一周内现场勘查，两周内完成整改。"}


def _aware(value: datetime) -> datetime:
    from datetime import timezone
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
