"""The domain tables: directory, officers, the whistle register and what hangs off a whistle.

Timestamps are stored in UTC (`UTCDateTime` converts on the way in and attaches UTC on the way
out, because SQLite keeps no offset); render them with `governance.calendar.iso`.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, Boolean, Date, Float, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint)
from sqlalchemy import false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models import UTCDateTime  # also defines the instances table Whistle.instance_id refers to
from engine.clock import now
from engine.db import Base


def _new_public_id() -> str:
    from .privacy import new_public_id
    return new_public_id()


UNIT_KINDS = ("city", "district", "street", "community", "department", "enterprise")
DEPARTMENT_KINDS = ("department", "enterprise")
SOURCES = ("patrol", "platform", "api")
LEVELS = ("district", "city")
GRADES = ("excellent", "good", "fair", "poor")
ANSWERS = ("accept", "object", "no_reply")


# -- directory and people ----------------------------------------------------------------

class Unit(Base):
    """A node of the organisation directory (city → district → street → community; departments
    and enterprises under the city or a district)."""
    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(50), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    categories: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)

    parent: Mapped["Unit | None"] = relationship(remote_side=[id], lazy="joined", join_depth=1)

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.kind} {self.name}>"


class Officer(Base):
    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(30), index=True)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # a demo officer still on the published demo password (cleared when the password changes)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # stored in every session and API token; bumped by logout and password change/reset (ends them all)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    unit: Mapped[Unit | None] = relationship(lazy="joined")


class Counter(Base):
    """Per-key sequence (e.g. 'whistle:HS:2026'), incremented atomically in the caller's transaction."""
    __tablename__ = "governance_counters"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


# -- the register ------------------------------------------------------------------------

class Whistle(Base):
    """One reported problem (吹哨事项) and where it stands."""
    __tablename__ = "whistles"
    __table_args__ = (Index("ix_whistles_stage_district", "stage", "district_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    whistle_no: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(50), index=True)
    community_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    street_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    district_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    location: Mapped[str | None] = mapped_column(String(300))
    reporter: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("instances.id", ondelete="SET NULL"), index=True)
    stage: Mapped[str] = mapped_column(String(40), default="triage")
    priority: Mapped[str | None] = mapped_column(String(20))
    level: Mapped[str | None] = mapped_column(String(20))
    lead_department_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    cooperating_department_ids: Mapped[list] = mapped_column(JSON, default=list)
    task_order_no: Mapped[str | None] = mapped_column(String(40))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    complete_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    target_due: Mapped[datetime | None] = mapped_column(UTCDateTime)   # R4: the graded target, never a deadline
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    complete_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction_rate: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # R20: how it was closed (governance.register.OUTCOMES); only the resolved ones count as solved
    outcome: Mapped[str | None] = mapped_column(String(30), index=True)
    joint_id: Mapped[str | None] = mapped_column(String(50), index=True)
    # residents' platforms read a whistle under a random id, never its guessable number (PIPL);
    # whistles entered by officers are internal unless marked public (governance.privacy)
    public_id: Mapped[str | None] = mapped_column(String(32), unique=True, index=True,
                                                  default=lambda: _new_public_id())
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    events: Mapped[list["WhistleEvent"]] = relationship(
        back_populates="whistle", order_by="WhistleEvent.id", cascade="all, delete-orphan")


class WhistleEvent(Base):
    """The timeline of a whistle; `reply` is what residents are told at that stage (R19)."""
    __tablename__ = "whistle_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    actor: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)

    whistle: Mapped[Whistle] = relationship(back_populates="events")


class Consultation(Base):
    """R7: a request for the opinion of a department proposed for dispatch."""
    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    department_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    suggested_unit_id: Mapped[str | None] = mapped_column(String(50))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskOrder(Base):
    """A task order (任务单) sending a whistle to a lead department and its co-operators."""
    __tablename__ = "task_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(40), unique=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    lead_department_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    cooperating_department_ids: Mapped[list] = mapped_column(JSON, default=list)
    completion_period: Mapped[str | None] = mapped_column(String(10))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    report_due: Mapped[datetime] = mapped_column(UTCDateTime)
    complete_due: Mapped[datetime] = mapped_column(UTCDateTime)
    target_due: Mapped[datetime | None] = mapped_column(UTCDateTime)   # R4: the graded target, never a deadline
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    complete_overdue: Mapped[bool] = mapped_column(Boolean, default=False)


class Extension(Base):
    """R11: a completion deadline moved after the community agreed and the org department approved."""
    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    task_order_no: Mapped[str | None] = mapped_column(String(40))
    requested_due: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    old_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    new_due: Mapped[datetime] = mapped_column(UTCDateTime)
    agreed_by_community: Mapped[bool] = mapped_column(Boolean, default=True)
    approved: Mapped[bool] = mapped_column(Boolean, default=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Notice(Base):
    """A message to every officer of a unit (overdue, consultation, extension, …)."""
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_unit_read", "unit_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(40))
    whistle_id: Mapped[int | None] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Survey(Base):
    """R12: a satisfaction survey run by the community after completion."""
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    respondents: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    basically_satisfied: Mapped[int] = mapped_column(Integer)
    dissatisfied: Mapped[int] = mapped_column(Integer)
    rate: Mapped[float] = mapped_column(Float)
    comments: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Evaluation(Base):
    """R16: the community's preliminary evaluation of one department on one whistle."""
    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("whistle_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    grade: Mapped[str] = mapped_column(String(20))
    timeliness: Mapped[str] = mapped_column(String(20))
    plan: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(20))
    attitude: Mapped[str] = mapped_column(String(20))
    opinion: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class StandingMechanism(Base):
    """R15: a long-term mechanism document with its lead and cooperating departments."""
    __tablename__ = "standing_mechanisms"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    document_no: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str | None] = mapped_column(Text)
    lead_department_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    cooperating_department_ids: Mapped[list] = mapped_column(JSON, default=list)
    source_whistle_ids: Mapped[list] = mapped_column(JSON, default=list)
    category: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class JointMeetingDate(Base):
    """R3: a community's own joint-meeting date; it replaces the default date of its quarter."""
    __tablename__ = "joint_meeting_dates"
    __table_args__ = (UniqueConstraint("community_id", "held_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date)


class CalendarDay(Base):
    """An official adjustment of the working-day calendar entered by an administrator; it
    overrides the `chinese-calendar` package. `workday` False: a holiday or rest day;
    True: a make-up working day (调休上班)."""
    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(100))      # e.g. 春节
    note: Mapped[str | None] = mapped_column(String(300))      # the source, e.g. 国办发明电〔2026〕X号
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ExportJob(Base):
    """A long export run in the background: its progress and, once done, the file. Kept in the
    database so that any web process can report on it and hand out the file."""
    __tablename__ = "export_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)         # the officer who started it
    name: Mapped[str] = mapped_column(String(200))                     # the download's file name
    fmt: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default="running")  # running | done | failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(300))
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class PolicySettingsVersion(Base):
    """One version of the local choices the policy leaves open (governance.policy_settings):
    every save stores all values anew; never edited in place."""
    __tablename__ = "policy_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    values: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


# issue 6 tables (joint matters R14, annual assessment R17/R18) live in their own module
from . import joint_assessment_models  # noqa: E402,F401
# issue 9 tables (every department's report for duty R8, joint consultation R13)
from . import duty_models  # noqa: E402,F401
# issue 10: failed logins counted per account and per address (governance.login_limits)
from . import login_limits  # noqa: E402,F401
