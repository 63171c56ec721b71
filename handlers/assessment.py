"""R17/R18 handlers of process `annual_assessment` (and its called processes
`street_recommendation`, `org_review`, `district_work_assessment`)."""
from __future__ import annotations

from engine.registry import HandlerContext, handler
from governance import assessment as A
from governance.calendar import iso
from governance.directory import CITY_ID, get_unit

from ._common import actor_of, now_of


@handler("assessment.claim")
def claim(year, manual=False, ctx: HandlerContext = None) -> dict:
    """Whether this instance runs `year`'s assessment (a manual start by city_org takes over the
    December timer's instance) → {claimed}."""
    return {"claimed": A.claim(ctx.session, int(year), ctx.instance_id, bool(manual), actor=actor_of(ctx))}


@handler("assessment.aggregate")
def aggregate(year, ctx: HandlerContext = None) -> dict:
    """R17: total each department's evaluations of `year` by street with the current settings →
    {assessment_id, street_ids, review_unit_ids, district_ids, settings_version}."""
    A.aggregate(ctx.session, int(year), actor=actor_of(ctx), at=now_of(ctx))
    return A.process_lists(ctx.session, int(year))


@handler("assessment.stage")
def stage(year, stage: str, ctx: HandlerContext = None) -> dict:
    """Move the year to `stage` (street_review | org_review | district_review) → {}."""
    if stage not in ("street_review", "org_review", "district_review"):
        raise ValueError(f"invalid assessment stage {stage!r}")
    A.set_status(ctx.session, int(year), stage)
    return {}


def _grades(excellent_department_ids=None, good_department_ids=None, fair_department_ids=None,
            poor_department_ids=None) -> dict:
    return A._grade_lists(excellent_department_ids, good_department_ids, fair_department_ids, poor_department_ids)


@handler("assessment.prepare_form")
def prepare_form(year, street_id: str | None = None, review_unit_id: str | None = None,
                 ctx: HandlerContext = None) -> dict:
    """The departments a street (or an org department) may grade — those it has results for this
    year — and empty grade lists → {assessable_department_ids, excellent_department_ids, ...}.
    The form limits every grade list to `assessable_department_ids` (an `among` rule)."""
    ids = A.assessable_departments(ctx.session, int(year), street_id=street_id, review_unit_id=review_unit_id)
    return {"assessable_department_ids": ids, **{f"{g}_department_ids": [] for g in A.GRADE_NAMES}}


@handler("assessment.record_recommendation")
def record_recommendation(year, street_id: str, opinion: str | None = None, excellent_department_ids=None,
                          good_department_ids=None, fair_department_ids=None, poor_department_ids=None,
                          ctx: HandlerContext = None) -> dict:
    """R17: store the street's recommendation; departments not listed keep their computed grade → {}."""
    A.record_recommendation(ctx.session, int(year), street_id, opinion=opinion,
                            grades=_grades(excellent_department_ids, good_department_ids,
                                           fair_department_ids, poor_department_ids),
                            actor=actor_of(ctx), at=now_of(ctx))
    return {}


@handler("assessment.review_context")
def review_context(review_unit_id: str, ctx: HandlerContext = None) -> dict:
    """Which org department reviews: → {review_level: 'district' | 'city', district_id, city_id}."""
    unit = get_unit(ctx.session, review_unit_id)
    if unit is None or unit.kind not in ("district", "city"):
        raise ValueError(f"{review_unit_id!r} is no district or city")
    level = "district" if unit.kind == "district" else "city"
    return {"review_level": level, "district_id": unit.id if level == "district" else None, "city_id": CITY_ID}


@handler("assessment.record_review")
def record_review(year, review_unit_id: str, opinion: str | None = None, excellent_department_ids=None,
                  good_department_ids=None, fair_department_ids=None, poor_department_ids=None,
                  ctx: HandlerContext = None) -> dict:
    """R17: store the org department's review; departments not listed keep their recommended grade → {}."""
    A.record_review(ctx.session, int(year), review_unit_id, opinion=opinion,
                    grades=_grades(excellent_department_ids, good_department_ids,
                                   fair_department_ids, poor_department_ids),
                    actor=actor_of(ctx), at=now_of(ctx))
    return {}


@handler("assessment.record_district_work")
def record_district_work(year, district_id: str, grade: str, opinion: str | None = None,
                         ctx: HandlerContext = None) -> dict:
    """R18: store the city's assessment of an urban district's own work → {}."""
    A.record_district_work(ctx.session, int(year), district_id, grade=grade, opinion=opinion,
                           actor=actor_of(ctx), at=now_of(ctx))
    return {}


@handler("assessment.publish")
def publish(year, ctx: HandlerContext = None) -> dict:
    """Freeze the year's results with the settings snapshot they were computed with → {published_at}."""
    row = A.publish(ctx.session, int(year), actor=actor_of(ctx), at=now_of(ctx))
    return {"published_at": iso(row.published_at)}


@handler("assessment.schedule")
def schedule(year, ctx: HandlerContext = None) -> dict:
    """Schedule the assessment of `year` (its timer start after the year ends; none when that has passed) → {scheduled_year}."""
    A.schedule_year(ctx.session, int(year), actor=actor_of(ctx), at=now_of(ctx))
    return {"scheduled_year": int(year)}
