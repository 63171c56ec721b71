"""`whistle bench`: persisted steps against plain in-memory SpiffWorkflow.

Runs N lifecycles of benchdata/lifecycle.bpmn (11 user tasks, a gateway, a boundary timer,
service tasks) through the engine on a scratch database of the configured kind (a file beside
the SQLite database, or a scratch schema on PostgreSQL), and the same lifecycles in memory with
the same serialisation (spec cached, not embedded): deserialise, complete, engine steps,
serialise. A step = one user-task completion and the engine steps after it. The two sides run
lifecycle by lifecycle in turn, so a busy machine slows both alike.
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


class _Persisted:
    """Lifecycles through the engine on a database: one transaction per step, as in production."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self.factory = make_sessionmaker(self.engine)
        with write_session(self.factory) as session:
            deploy(session, read_folder(BENCH_DIR), forms_dir=BENCH_DIR / "forms", actor="bench")
        self.latencies: list[float] = []
        self.finished: list[int] = []

    def lifecycle(self) -> None:
        with write_session(self.factory) as session:
            instance_id = runtime.start(session, PROCESS, {"unit_id": UNIT}, actor="bench").id
        rounds: dict[str, int] = {}
        while True:
            with self.factory() as session:
                row = session.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id)).first()
            if row is None:
                break
            data = _answer(row.task, rounds.get(row.task, 0))
            rounds[row.task] = rounds.get(row.task, 0) + 1
            started = time.perf_counter()
            with write_session(self.factory) as session:
                runtime.complete(session, row.id, data, actor="bench")
            self.latencies.append(time.perf_counter() - started)
        self.finished.append(instance_id)

    def summary(self) -> dict:
        with self.factory() as session:
            size = _bytes_per_instance(session, self.finished)
            statuses = set(session.scalars(select(Instance.status).where(Instance.id.in_(self.finished))))
            deployment_id = session.scalar(select(func.max(text("deployment_id"))).select_from(text("process_versions")))
            loaded = spec_cache.get(session, deployment_id, PROCESS)
        return {"bytes_per_instance": size, "statuses": sorted(statuses), "loaded": loaded}

    def close(self):
        self.engine.dispose()


def _bytes_per_instance(session, instance_ids: list[int]) -> int:
    """Stored bytes of finished instances (state, columns, inbox and timer rows; audit excluded)."""
    state = session.scalar(select(func.sum(func.length(Instance.state))).where(Instance.id.in_(instance_ids))) or 0
    columns = 8 * 6 + 100  # ids, counters, timestamps, status, process id, business key: generous
    inbox = session.scalar(select(func.count()).select_from(InboxTask).where(InboxTask.instance_id.in_(instance_ids)))
    timers = session.scalar(select(func.count()).select_from(Timer).where(Timer.instance_id.in_(instance_ids)))
    return round(state / len(instance_ids) + columns + (inbox * 300 + timers * 100) / len(instance_ids))


class _Raw:
    """The same lifecycles with plain SpiffWorkflow in memory, no database: deserialise, complete,
    engine steps, serialise (the spec cached, the same serialisation)."""

    def __init__(self, loaded):
        self.loaded = loaded
        self.script_engine = SandboxScriptEngine(lambda task, name, params: registry.get_handler(name)(**params))
        self.latencies: list[float] = []

    def lifecycle(self) -> None:
        spec, subprocess_specs = self.loaded.spec, self.loaded.subprocess_specs
        wf = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
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
            wf = serializer.loads(blob, spec, subprocess_specs, self.script_engine)
            task = wf.get_task_from_id(UUID(str(task_uuid)))
            task.set_data(**data)
            task.run()
            wf.do_engine_steps()
            blob = serializer.dumps(wf)
            self.latencies.append(time.perf_counter() - started)


def run_bench(url: str, lifecycles: int = 200) -> dict:
    _register()
    with _scratch_database(url) as scratch:
        persisted_runner = _Persisted(scratch)
        persisted_runner.lifecycle()   # warm up: parse and cache the spec
        raw_runner = _Raw(persisted_runner.summary()["loaded"])
        persisted_runner.latencies.clear()
        # interleaved, so that both sides meet the same machine load
        for _ in range(lifecycles):
            persisted_runner.lifecycle()
            raw_runner.lifecycle()
        persisted = persisted_runner.summary()
        persisted_runner.close()
    p_lat, r_lat = persisted_runner.latencies, raw_runner.latencies
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
