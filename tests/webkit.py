"""Test support for HTTP and browser tests: a demo database, an app over it, a live server, and a
driver that moves a whistle along the standard path through the engine."""
from __future__ import annotations

import re
import shutil
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine import runtime
from engine.clock import frozen_at
from engine.db import Base, make_engine, make_sessionmaker, write_session
from engine.deploy import deploy, read_folder
from engine.models import InboxTask

from webapp.system import FORMS_DIR, PROCESSES_DIR, load_plugins

DEMO_PASSWORD = "demo1234"
# the instant HTTP and browser tests run at unless they set another (a Monday in Ma'anshan)
DEFAULT_NOW = datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

# the data each task of the standard path (triage → street → dispatch → handling → evaluation) gets
STANDARD = {
    "triage": {"route": "street", "reply": "已上报街道协调。"},
    "street_coordinate": {"outcome": "start_procedure", "result": "需要部门解决", "reply": "已启动程序。"},
    "street_review": {"decision": "start_procedure", "opinion": "同意启动", "category": "交通出行", "urgency": 2,
                      "complexity": 2, "lead_department_id": "hs-cgj", "cooperating_department_ids": ["hs-zjj"]},
    "propose": {"decision": "consult", "lead_department_id": "hs-cgj", "cooperating_department_ids": ["hs-zjj"]},
    "consultation_reply": {"answer": "accept"},
    "confirm_dispatch": {"decision": "dispatch"},
    "report_for_duty": {"visited_on": "2026-11-16", "leader_name": "王主任", "leader_phone": "13900000000",
                        "contact_name": "李干事", "contact_phone": "0555-2345678", "work_plan": "两周内完成整改。"},
    "joint_consultation": {"held_on": "2026-11-16", "participant_ids": ["hs-zjj"], "work_split": "hs-zjj：配合整改。"},
    "cooperate": {"contribution": "配合完成。"},
    "complete_matter": {"outcome": "completed", "result": "已办结", "reply": "问题已解决。"},
    "satisfaction_survey": {"surveyed_on": "2026-11-16", "respondents": 10, "satisfied": 9,
                            "basically_satisfied": 1, "dissatisfied": 0},
}


def prepare_database(url: str):
    """Tables, the demo directory and officers, processes/ deployed; returns a session factory."""
    load_plugins()
    import governance.models  # noqa: F401
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    from governance.demo import load_demo
    with write_session(factory) as session:
        load_demo(session)
        deploy(session, read_folder(PROCESSES_DIR), forms_dir=FORMS_DIR, actor="test")
    return factory


class InjectedClock:
    """The clock an app under test runs on (its `CLOCK` setting): a fixed instant the test moves
    with `set`, never the wall clock, so no HTTP test depends on today's date."""

    def __init__(self, instant: datetime = DEFAULT_NOW):
        self.instant = instant

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the test clock needs a timezone-aware instant")
        self.instant = instant

    def __call__(self) -> datetime:
        return self.instant


def make_app(url: str, tmp_path: Path, **config):
    """An app over `url` for tests; its clock is an InjectedClock at DEFAULT_NOW unless `CLOCK` is given
    (`app.config["CLOCK"].set(instant)` moves it)."""
    from webapp import create_app
    settings = {"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test-secret", "CLOCK": InjectedClock(),
                "UPLOAD_FOLDER": str(tmp_path / "uploads"), "LOGIN_RATE_LIMIT": "1000 per minute"}
    settings.update(config)
    return create_app(settings)


def dispose(app) -> None:
    app.extensions["sessions"].kw["bind"].dispose()


@contextmanager
def demo_app(url: str, tmp_path: Path, *, seed=None, editable: bool = False, **config):
    """(app, session factory) over a demo database at `url` (prepare_database), both disposed
    afterwards. `seed(factory)` adds data first; with `editable`, the app's forms/ and processes/
    are copies in `tmp_path` that the test may change; `config` goes to the app."""
    factory = prepare_database(url)
    if seed is not None:
        seed(factory)
    if editable:
        shutil.copytree(FORMS_DIR, tmp_path / "forms")
        shutil.copytree(PROCESSES_DIR, tmp_path / "processes")
        config.update(FORMS_DIR=str(tmp_path / "forms"), PROCESSES_DIR=str(tmp_path / "processes"))
    app = make_app(url, tmp_path, **config)
    try:
        yield app, factory
    finally:
        dispose(app)
        factory.kw["bind"].dispose()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return match.group(1) if match else ""


def login(client, username: str, password: str = DEMO_PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))})


def api_token(app, username: str, password: str = DEMO_PASSWORD) -> dict:
    """The Authorization header of an API session of `username` (POST /api/v1/session)."""
    res = app.test_client().post("/api/v1/session", json={"username": username, "password": password})
    assert res.status_code == 200, res.get_data(as_text=True)
    return {"Authorization": f"Bearer {res.get_json()['token']}"}


def logged_in(app, username: str):
    """A test client of `app` logged in as the demo officer `username`."""
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def report(factory, *, title="公交站点设置不合理", category="交通出行", community_id="hs-jfl-sq1", actor="wg-hs-jfl-sq1",
           at: datetime = DEFAULT_NOW):
    from governance.register import report_whistle
    with write_session(factory) as session, frozen_at(at):
        whistle = report_whistle(session, title=title, description="站点离小区太远", category=category,
                                 community_id=community_id, location="花园路", reporter="居民",
                                 source="patrol", actor=actor)
        return whistle.id, whistle.instance_id, whistle.whistle_no


def ready(factory, instance_id: int) -> list[InboxTask]:
    with factory() as session:
        return list(session.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id)
                                    .order_by(InboxTask.created_at, InboxTask.id)))


def advance(factory, instance_id: int, until: str, data: dict | None = None, max_steps: int = 20,
            at: datetime = DEFAULT_NOW) -> list[InboxTask]:
    """Complete the instance's ready tasks with STANDARD data at `at` until a task `until` is ready,
    each as an officer of the task's unit would (governance.workspace: the form's checks included)."""
    data = {**STANDARD, **(data or {})}
    for _ in range(max_steps):
        tasks = ready(factory, instance_id)
        if any(t.task == until for t in tasks):
            return tasks
        if not tasks:
            raise AssertionError(f"instance {instance_id} has no ready task before {until}")
        complete_as_officer(factory, tasks[0], data[tasks[0].task], at=at)
    raise AssertionError(f"{until} not reached")


def complete_as_officer(factory, task: InboxTask, data: dict, *, at: datetime = DEFAULT_NOW):
    """An officer of `task`'s unit completes it through governance.workspace at `at` (the form's
    checks included); fails on a task no officer of its unit can take."""
    from governance import workspace
    from governance.models import Officer
    with write_session(factory) as session, frozen_at(at):
        officer = session.scalars(select(Officer).where(Officer.role == task.role, Officer.unit_id == task.unit_id,
                                                        Officer.active.is_(True))).first()
        assert officer is not None, f"orphan task {task.task} (role {task.role}, unit {task.unit_id})"
        instance = workspace.complete_task(session, officer, task.id, data)
        assert instance.status != "incident", instance.incident
        return instance


class LiveServer:
    """The app served by werkzeug on 127.0.0.1 at a random port, in a thread."""

    def __init__(self, app):
        from werkzeug.serving import make_server
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)
