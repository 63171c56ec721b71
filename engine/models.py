"""The engine's tables: deployments and process versions, instances, inbox, timers, audit."""
from __future__ import annotations

from datetime import datetime

from datetime import timezone

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint)
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .clock import now
from .db import Base

class UTCDateTime(TypeDecorator):
    """Aware datetimes stored in UTC; SQLite keeps no offset, so naive values read back are UTC."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store instants with a timezone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


TZDateTime = UTCDateTime()


class Deployment(Base):
    """One accepted upload: the files as sent, plus the files of processes they call."""
    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    files: Mapped[dict] = mapped_column(JSON)          # own files: name -> text
    dependencies: Mapped[dict] = mapped_column(JSON, default=dict)  # called processes' files
    forms: Mapped[dict] = mapped_column(JSON, default=dict)         # form file -> JSON Schema
    # process id -> task BPMN id -> {name, kind, role, unit_key, form, due_key}, for every process
    # in files and dependencies
    task_meta: Mapped[dict] = mapped_column(JSON, default=dict)
    deployed_by: Mapped[str | None] = mapped_column(String(100))
    deployed_at: Mapped[datetime] = mapped_column(TZDateTime, default=now)
    note: Mapped[str | None] = mapped_column(Text)

    versions: Mapped[list["ProcessVersion"]] = relationship(back_populates="deployment")


class ProcessVersion(Base):
    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(300))

    deployment: Mapped[Deployment] = relationship(back_populates="versions")


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_status_process", "status", "process_id"),
                      # admin listing, newest first and keyset-paged on id: by process, by status, by date
                      Index("ix_instances_process_id_id", "process_id", "id"),
                      Index("ix_instances_status_id", "status", "id"),
                      Index("ix_instances_started_at", "started_at"),
                      # counts per version and status (version list, overview) without reading rows
                      Index("ix_instances_version_status", "process_version_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))  # indexed with status
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))  # = version's; saves a join per step
    process_id: Mapped[str] = mapped_column(String(200))
    # running (user tasks ready) | waiting (timer/message only) | incident | suspended | completed | cancelled
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[bytes] = mapped_column(LargeBinary)     # zlib-compressed JSON, spec not embedded
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    business_key: Mapped[str | None] = mapped_column(String(100), index=True)
    incident: Mapped[dict | None] = mapped_column(JSON)   # {task, message, action, ...}
    started_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(TZDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=now)
    ended_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    version: Mapped[ProcessVersion] = relationship()

    __mapper_args__ = {"version_id_col": lock_version}


class InboxTask(Base):
    """One row per READY user task: the officers' task list is one indexed query."""
    __tablename__ = "inbox_tasks"
    __table_args__ = (Index("ix_inbox_role_unit", "role", "unit_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)   # SpiffWorkflow task UUID
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(200))                  # BPMN task id
    name: Mapped[str | None] = mapped_column(String(300))
    form: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(50))
    unit_id: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(100), index=True)
    due_at: Mapped[datetime | None] = mapped_column(TZDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=now)


class Timer(Base):
    """One row per armed timer; the worker's sweep is an index range scan on due_at."""
    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    task_uuid: Mapped[str] = mapped_column(String(36))
    task: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(TZDateTime, index=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(TZDateTime, default=now)
    actor: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))   # start | complete | timer | message | incident | retry | ...
    task: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict | None] = mapped_column(JSON)  # data changed, engine tasks run, reason
    reason: Mapped[str | None] = mapped_column(Text)
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)


class FormVersion(Base):
    """A form as policy staff saved it in the form editor: each save is a new version (never a
    file in forms/). The newest version of a name stands in for forms/ at the next deployment."""
    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    schema: Mapped[dict] = mapped_column(JSON)
    saved_by: Mapped[str | None] = mapped_column(String(100))
    saved_at: Mapped[datetime] = mapped_column(TZDateTime, default=now)
