"""Tables of the handling stage (issue 9): every department's own report for duty (R8, R9) and
the lead department's joint consultation with the cooperating departments (R13).

Imported at the end of `governance.models`, so `Base.metadata` always holds them.
Timestamps are UTC (`UTCDateTime`), as everywhere else.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.clock import now
from engine.db import Base
from engine.models import UTCDateTime

DUTY_ROLES = ("lead", "cooperating")


class DepartmentReport(Base):
    """R8/R9: one dispatched department's report for duty at one whistling community under one
    task order (a joint matter has one per department × community; a rework opens a new round)."""
    __tablename__ = "department_reports"
    __table_args__ = (Index("ix_department_reports_order_department", "task_order_no", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    task_order_no: Mapped[str] = mapped_column(String(40))
    department_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))                    # lead | cooperating
    community_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    round: Mapped[int] = mapped_column(Integer, default=0)           # 0, then one per rework
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    report_due: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # overdue notices sent (once)
    visited_on: Mapped[date | None] = mapped_column(Date)
    leader_name: Mapped[str | None] = mapped_column(String(50))
    leader_phone: Mapped[str | None] = mapped_column(String(40))
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    work_plan: Mapped[str | None] = mapped_column(Text)
    reported_by: Mapped[str | None] = mapped_column(String(100))


class JointConsultation(Base):
    """R13 共同协商: the lead department convened the cooperating departments and agreed who does
    what (one row per whistle; a joint matter records it on each linked whistle)."""
    __tablename__ = "joint_consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    task_order_no: Mapped[str | None] = mapped_column(String(40))
    lead_department_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    held_on: Mapped[date] = mapped_column(Date)
    participant_ids: Mapped[list] = mapped_column(JSON, default=list)   # cooperating departments present
    absent_ids: Mapped[list] = mapped_column(JSON, default=list)        # cooperating departments absent
    work_split: Mapped[dict] = mapped_column(JSON, default=dict)        # department id -> agreed share
    split_text: Mapped[str] = mapped_column(Text)
    minutes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
