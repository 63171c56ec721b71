"""Tables of issue 6: joint matters (R14) and the annual assessment (R17, R18).

Imported at the end of `governance.models`, so `Base.metadata` always holds them.
Timestamps are UTC (`UTCDateTime`), as everywhere else.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.clock import now
from engine.db import Base
from engine.models import UTCDateTime

JOINT_STATUSES = ("open", "dispatched", "closed", "cancelled")   # cancelled: its whistles went back to their streets
ASSESSMENT_STATUSES = ("scheduled", "street_review", "org_review", "district_review", "published")


# -- R14: problems common to several communities --------------------------------------------

class JointMatter(Base):
    """A problem reported by several communities, dispatched and handled once (共性问题)."""
    __tablename__ = "joint_matters"

    id: Mapped[int] = mapped_column(primary_key=True)
    joint_no: Mapped[str] = mapped_column(String(50), unique=True)   # = Whistle.joint_id
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(50), index=True)
    level: Mapped[str] = mapped_column(String(20))                   # district | city
    district_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    org_unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))  # the org department's unit
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("instances.id", ondelete="SET NULL"), index=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    task_order_no: Mapped[str | None] = mapped_column(String(40))
    lead_department_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    cooperating_department_ids: Mapped[list] = mapped_column(JSON, default=list)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(30))

    links: Mapped[list["JointLink"]] = relationship(
        back_populates="joint", order_by="JointLink.id", cascade="all, delete-orphan")


class JointLink(Base):
    """One whistle linked to a joint matter; an unlink keeps the row (audit: who, when, why)."""
    __tablename__ = "joint_links"
    __table_args__ = (Index("ix_joint_links_joint_whistle", "joint_id", "whistle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    joint_id: Mapped[int] = mapped_column(ForeignKey("joint_matters.id", ondelete="CASCADE"), index=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    linked_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unlinked_by: Mapped[str | None] = mapped_column(String(100))
    unlink_reason: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # joint_matter_closed sent

    joint: Mapped[JointMatter] = relationship(back_populates="links")


# -- R17/R18: the annual assessment ---------------------------------------------------------

class AssessmentSettings(Base):
    """One version of the scoring settings (weights and grade thresholds); never edited in place."""
    __tablename__ = "assessment_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    response_weight: Mapped[float] = mapped_column(Float)
    resolution_weight: Mapped[float] = mapped_column(Float)
    satisfaction_weight: Mapped[float] = mapped_column(Float)
    opinion_weight: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # R17: the communities' grades
    thresholds: Mapped[dict] = mapped_column(JSON)      # {"excellent": 90, "good": 80, "fair": 60}
    grade_points: Mapped[dict] = mapped_column(JSON)    # {"excellent": 100, "good": 85, ...}
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class AssessmentYear(Base):
    """The assessment of one year; `frozen` once published (its settings snapshot is kept)."""
    __tablename__ = "assessment_years"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), index=True)
    settings_version: Mapped[int | None] = mapped_column(Integer)
    settings_snapshot: Mapped[dict | None] = mapped_column(JSON)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    started_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    aggregated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(100))

    results: Mapped[list["AssessmentResult"]] = relationship(
        back_populates="year_row", order_by="AssessmentResult.id", cascade="all, delete-orphan")


class AssessmentResult(Base):
    """A department's year at one street (street_id set) or in total (street_id NULL)."""
    __tablename__ = "assessment_results"
    __table_args__ = (Index("ix_assessment_results_year_dept", "year_id", "department_id", "street_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("assessment_years.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    department_level: Mapped[str] = mapped_column(String(20))     # city | district
    org_unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))  # who reviews: the district or the city
    street_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    evaluations: Mapped[int] = mapped_column(Integer, default=0)
    whistles: Mapped[int] = mapped_column(Integer, default=0)
    reported_on_time: Mapped[int] = mapped_column(Integer, default=0)
    completed_on_time: Mapped[int] = mapped_column(Integer, default=0)
    excellent: Mapped[int] = mapped_column(Integer, default=0)
    good: Mapped[int] = mapped_column(Integer, default=0)
    fair: Mapped[int] = mapped_column(Integer, default=0)
    poor: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction_rate: Mapped[float | None] = mapped_column(Float)
    response_score: Mapped[float | None] = mapped_column(Float)
    resolution_score: Mapped[float | None] = mapped_column(Float)
    satisfaction_score: Mapped[float | None] = mapped_column(Float)
    opinion_score: Mapped[float | None] = mapped_column(Float)          # mean points of the communities' grades
    score: Mapped[float | None] = mapped_column(Float)
    computed_grade: Mapped[str | None] = mapped_column(String(20))
    recommended_grade: Mapped[str | None] = mapped_column(String(20))   # the street's (R17)
    street_opinion: Mapped[str | None] = mapped_column(Text)
    reviewed_grade: Mapped[str | None] = mapped_column(String(20))      # the org department's
    review_opinion: Mapped[str | None] = mapped_column(Text)
    final_grade: Mapped[str | None] = mapped_column(String(20))

    year_row: Mapped[AssessmentYear] = relationship(back_populates="results")


class StreetRecommendation(Base):
    """R17: a street's annual recommendation (one per street and year)."""
    __tablename__ = "assessment_street_recommendations"
    __table_args__ = (UniqueConstraint("year_id", "street_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("assessment_years.id", ondelete="CASCADE"), index=True)
    street_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    opinion: Mapped[str | None] = mapped_column(Text)
    grades: Mapped[dict] = mapped_column(JSON, default=dict)   # department id -> recommended grade
    by: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class OrgReview(Base):
    """R17: the org department's review of the recommendations for its departments."""
    __tablename__ = "assessment_org_reviews"
    __table_args__ = (UniqueConstraint("year_id", "org_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("assessment_years.id", ondelete="CASCADE"), index=True)
    org_unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    opinion: Mapped[str | None] = mapped_column(Text)
    grades: Mapped[dict] = mapped_column(JSON, default=dict)   # department id -> reviewed grade
    by: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class DistrictWorkAssessment(Base):
    """R18: the city's assessment of an urban district's own work on the mechanism."""
    __tablename__ = "assessment_district_work"
    __table_args__ = (UniqueConstraint("year_id", "district_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("assessment_years.id", ondelete="CASCADE"), index=True)
    district_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    figures: Mapped[dict] = mapped_column(JSON, default=dict)   # the district's R20 figures of the year
    grade: Mapped[str | None] = mapped_column(String(20))
    opinion: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)
