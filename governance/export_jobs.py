"""Background exports (R20: long exports show progress), kept in the table `export_jobs` so that
any web process can report a job's progress and hand out its file, whichever process runs it.

A job is written in short transactions of its own: created, then its progress now and then, then
the file (or the error). A job whose runner stopped reporting (its process ended) counts as
failed; finished jobs are removed after `KEEP`.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from sqlalchemy import delete, select, update

from engine.clock import now
from engine.db import write_session

from .exports import ExportError
from .models import ExportJob

log = logging.getLogger(__name__)

KEEP = timedelta(hours=1)          # finished jobs (and their files) are kept this long
SILENT = timedelta(minutes=10)     # a running job not heard of for this long has died
PROGRESS_EVERY = 0.5               # seconds between progress writes
FAILED = "导出失败，请稍后再试。"
LOST = "导出中断，请重新导出。"


def create(factory, owner_id: int, name: str, fmt: str) -> str:
    """A new running job of `owner_id`; old finished jobs are cleared on the way."""
    job_id = uuid.uuid4().hex
    with write_session(factory) as session:
        session.execute(delete(ExportJob).where(ExportJob.created_at < now() - KEEP,
                                                ExportJob.state != "running"))
        session.add(ExportJob(id=job_id, owner_id=owner_id, name=name, fmt=fmt, state="running"))
    return job_id


def run(factory, job_id: str, call) -> None:
    """Run `call(session, progress)` (an export of governance.exports) for job `job_id` and keep
    its file, or its error (an ExportError's message, else FAILED with the cause logged)."""
    session = factory()
    try:
        finish(factory, job_id, call(session, progress_writer(factory, job_id)))
    except ExportError as exc:
        fail(factory, job_id, str(exc))
    except Exception:  # noqa: BLE001  (shown to the officer as FAILED, the cause goes to the log)
        log.exception("export job %s failed", job_id)
        fail(factory, job_id, FAILED)
    finally:
        session.close()


def progress_writer(factory, job_id: str):
    """A `progress(done, total)` callback that records the progress at most every PROGRESS_EVERY s."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] < PROGRESS_EVERY and done < total:
            return
        last[0] = time.monotonic()
        with write_session(factory) as session:
            session.execute(update(ExportJob).where(ExportJob.id == job_id, ExportJob.state == "running")
                            .values(done=done, total=total, updated_at=now()))
    return progress


def finish(factory, job_id: str, content: bytes) -> None:
    with write_session(factory) as session:
        job = session.get(ExportJob, job_id)
        job.content, job.state, job.updated_at = content, "done", now()
        job.done = job.total = max(job.total, job.done)


def fail(factory, job_id: str, error: str) -> None:
    with write_session(factory) as session:
        session.execute(update(ExportJob).where(ExportJob.id == job_id)
                        .values(state="failed", error=error[:300], updated_at=now()))


def get(session, job_id: str, owner_id: int) -> ExportJob | None:
    """The job if it belongs to `owner_id`, else None."""
    return session.scalar(select(ExportJob).where(ExportJob.id == job_id, ExportJob.owner_id == owner_id))


def state_of(job: ExportJob) -> tuple[str, str | None]:
    """(state, error) as reported: a running job not heard of for SILENT has failed."""
    if job.state == "running" and job.updated_at < now() - SILENT:
        return "failed", LOST
    return job.state, job.error


def content(session, job: ExportJob) -> bytes | None:
    return session.scalar(select(ExportJob.content).where(ExportJob.id == job.id))
