"""`whistle bench`: persisted steps against plain in-memory SpiffWorkflow.

Runs N lifecycles of benchdata/lifecycle.bpmn (11 user tasks, a gateway, a boundary timer,
service tasks) through the engine on a scratch database of the configured kind (a file beside
the SQLite database, or a scratch schema on PostgreSQL), and the same lifecycles in memory with
the same serialisation (spec cached, not embedded): deserialise, complete, engine steps,
serialise. A step = one user-task completion and the engine steps after it.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

from sqlalchemy import func, select, text
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from . import registry, runtime, serializer
from .db import Base, make_engine, make_sessionmaker, write_session
from .deploy import deploy, read_folder
from .models import InboxTask, Instance, Timer
from .parsing import spec_cache
from .sandbox import SandboxScriptEngine

BENCH_DIR = Path(__file__).resolve().parent / "benchdata"
PROCESS = "bench_lifecycle"
UNIT = "bench-unit"


def _stamp(what: str = "") -> dict:
    return {"stamped": what}


def _register():
    if registry.get_handler("bench.stamp") is None:
        registry.handler("bench.stamp")(_stamp)
    registry.register_role("bench_clerk", "unit_id")


def _answer(task_id: str, round_no: int) -> dict:
    data = {"note": f"{task_id} 已办理"}
    if task_id == "step_05":
        data["approved"] = round_no > 0   # first pass loops back through the gateway once
    return data


@contextmanager
def _scratch_database(url: str):
    """A scratch database of the same kind as `url`."""
    if url.startswith("sqlite"):
        base = url.split("///", 1)[1] if "///" in url else ""
        folder = Path(base).resolve().parent if base and base != ":memory:" else Path(tempfile.gettempdir())
        fd, path = tempfile.mkstemp(prefix="whistle-bench-", suffix=".db", dir=folder)
        os.close(fd)
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _persisted(url: str, lifecycles: int) -> dict:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    with write_session(factory) as session:
        deploy(session, read_folder(BENCH_DIR), forms_dir=BENCH_DIR / "forms", actor="bench")
    latencies, finished = [], []
    rounds: dict[str, int] = {}
    for _ in range(lifecycles):
        with write_session(factory) as session:
            instance_id = runtime.start(session, PROCESS, {"unit_id": UNIT}, actor="bench").id
        while True:
            with factory() as session:
                row = session.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id)).first()
            if row is None:
                break
            data = _answer(row.task, rounds.get(f"{instance_id}:{row.task}", 0))
            rounds[f"{instance_id}:{row.task}"] = rounds.get(f"{instance_id}:{row.task}", 0) + 1
            started = time.perf_counter()
            with write_session(factory) as session:
                runtime.complete(session, row.id, data, actor="bench")
            latencies.append(time.perf_counter() - started)
        finished.append(instance_id)
    with factory() as session:
        size = _bytes_per_instance(session, finished)
        statuses = set(session.scalars(select(Instance.status).where(Instance.id.in_(finished))))
    engine.dispose()
    return {"latencies": latencies, "bytes_per_instance": size, "statuses": sorted(statuses)}


def _bytes_per_instance(session, instance_ids: list[int]) -> int:
    """Stored bytes of finished instances (state, columns, inbox and timer rows; audit excluded)."""
    state = session.scalar(select(func.sum(func.length(Instance.state))).where(Instance.id.in_(instance_ids))) or 0
    columns = 8 * 6 + 100  # ids, counters, timestamps, status, process id, business key: generous
    inbox = session.scalar(select(func.count()).select_from(InboxTask).where(InboxTask.instance_id.in_(instance_ids)))
    timers = session.scalar(select(func.count()).select_from(Timer).where(Timer.instance_id.in_(instance_ids)))
    return round(state / len(instance_ids) + columns + (inbox * 300 + timers * 100) / len(instance_ids))


def _raw(session_url: str, lifecycles: int) -> list[float]:
    """The same lifecycles with plain SpiffWorkflow in memory: no database at all."""
    engine = make_engine(session_url)
    with make_sessionmaker(engine)() as session:
        deployment_id = session.scalar(select(func.max(text("deployment_id"))).select_from(text("process_versions")))
        loaded = spec_cache.get(session, deployment_id, PROCESS)
    engine.dispose()
    script_engine = SandboxScriptEngine(lambda task, name, params: registry.get_handler(name)(**params))
    latencies = []
    for _ in range(lifecycles):
        wf = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=script_engine)
        wf.get_tasks(state=TaskState.READY)[0].set_data(unit_id=UNIT)
        wf.do_engine_steps()
        blob = serializer.dumps(wf)
        rounds: dict[str, int] = {}
        while True:
            ready = [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.manual]
            if not ready:
                break
            task_uuid, task_id = ready[0].id, ready[0].task_spec.bpmn_id
            data = _answer(task_id, rounds.get(task_id, 0))
            rounds[task_id] = rounds.get(task_id, 0) + 1
            started = time.perf_counter()
            wf = serializer.loads(blob, loaded.spec, loaded.subprocess_specs, script_engine)
            task = wf.get_task_from_id(UUID(str(task_uuid)))
            task.set_data(**data)
            task.run()
            wf.do_engine_steps()
            blob = serializer.dumps(wf)
            latencies.append(time.perf_counter() - started)
    return latencies


def run_bench(url: str, lifecycles: int = 200) -> dict:
    _register()
    with _scratch_database(url) as scratch:
        persisted = _persisted(scratch, lifecycles)
        raw = _raw(scratch, lifecycles)
    p_lat, r_lat = persisted["latencies"], raw
    persisted_rate = len(p_lat) / sum(p_lat)
    raw_rate = len(r_lat) / sum(r_lat)
    quantiles = statistics.quantiles(p_lat, n=20)
    return {
        "database": make_engine(url).dialect.name,
        "lifecycles": lifecycles,
        "steps": len(p_lat),
        "persisted_steps_per_s": round(persisted_rate, 1),
        "raw_steps_per_s": round(raw_rate, 1),
        "ratio": round(persisted_rate / raw_rate, 3),
        "p50_ms": round(statistics.median(p_lat) * 1000, 2),
        "p95_ms": round(quantiles[18] * 1000, 2),
        "raw_p50_ms": round(statistics.median(r_lat) * 1000, 2),
        "bytes_per_instance": persisted["bytes_per_instance"],
        "final_status": persisted["statuses"],
    }
