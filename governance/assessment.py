"""R16–R18: aggregation of the per-whistle evaluations and the annual assessment.

Scoring settings (policy staff edit them; every change is a new version):

    save_settings(session, actor="policy", response_weight=30, resolution_weight=40,
                  satisfaction_weight=30, thresholds={"excellent": 90, "good": 80, "fair": 60})

For one department (in one street, or in total) over the evaluations of a year
(Evaluation.at in that calendar year, Asia/Shanghai), with n evaluations:

    response_score     = 100 × (evaluations whose department reported on time, R8) / n
    resolution_score   = mean of the `result` grade points (settings.grade_points); an
                         evaluation whose completion was overdue (R10) counts one grade lower
    satisfaction_score = mean satisfaction rate of the evaluated whistles (R12), over those
                         with a survey; missing when none had one
    opinion_score      = mean grade points of the community's preliminary opinion (the overall
                         `grade` of each evaluation, R16), which the annual assessment builds on (R17)
    score = Σ weight × component / Σ weight (over the components present), one decimal
    computed_grade = the first of excellent/good/fair whose threshold score reaches, else poor

The year is the calendar year, December included: the timer start of year Y fires at 09:00 on
the first working day of January Y+1, and city_org may start it by hand only once the year has
ended. A year whose start has already passed is never scheduled (a fresh install does not fire an
old year's timer at once); city_org starts it by hand.

The annual process (`annual_assessment.bpmn`): `assessment.aggregate` stores these as draft
AssessmentResult rows (one per department and street, one per department in total) with the
settings snapshot → each street recommends (`street_recommendation`) → the org department of
each department's level reviews (`org_review`) → the city assesses the urban districts' own work
(`district_work_assessment`, R18) → `assessment.publish` freezes the year. A frozen year is
never recomputed: later settings only affect later years.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from engine.clock import now

from .calendar import TZ, is_workday, iso, to_utc
from .directory import CITY_ID, get_unit, unit_name
from .joint_assessment_models import (AssessmentResult, AssessmentSettings, AssessmentYear,
                                      DistrictWorkAssessment, OrgReview, StreetRecommendation)
from .models import GRADES, Evaluation, Unit, Whistle

PROCESS_ID = "annual_assessment"
GRADE_NAMES = {"excellent": "优秀", "good": "良好", "fair": "一般", "poor": "较差"}
DEFAULT_SETTINGS = {
    "response_weight": 20.0, "resolution_weight": 30.0, "satisfaction_weight": 20.0, "opinion_weight": 30.0,
    "thresholds": {"excellent": 90.0, "good": 80.0, "fair": 60.0},
    "grade_points": {"excellent": 100.0, "good": 85.0, "fair": 70.0, "poor": 50.0},
}
URBAN_DISTRICT_NAMES = ("花山区", "雨山区")   # R18: assessed by the city for their own work
START_TIME = time(9, 0)                    # the timer start: 09:00 on the first working day after the year


class AssessmentError(ValueError):
    pass


def _d1(value) -> float | None:
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[1 January, next 1 January) of `year` in Asia/Shanghai, as UTC instants."""
    return (to_utc(datetime.combine(date(year, 1, 1), time(0), TZ)),
            to_utc(datetime.combine(date(year + 1, 1, 1), time(0), TZ)))


# -- settings --------------------------------------------------------------------------------

def _snapshot(row: AssessmentSettings) -> dict:
    return {"version": row.version, "response_weight": row.response_weight,
            "resolution_weight": row.resolution_weight, "satisfaction_weight": row.satisfaction_weight,
            "opinion_weight": row.opinion_weight or 0.0,
            "thresholds": dict(row.thresholds), "grade_points": dict(row.grade_points),
            "note": row.note, "created_by": row.created_by, "created_at": iso(row.created_at)}


def current_settings(session) -> dict:
    """The newest settings version as a dict (the defaults, version 0, when none was saved)."""
    row = session.scalar(select(AssessmentSettings).order_by(AssessmentSettings.version.desc()).limit(1))
    if row is None:
        return {"version": 0, **{k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_SETTINGS.items()},
                "note": "默认设置", "created_by": None, "created_at": None}
    return _snapshot(row)


def settings_history(session) -> list[dict]:
    return [_snapshot(r) for r in session.scalars(select(AssessmentSettings).order_by(AssessmentSettings.version))]


def save_settings(session, *, actor: str | None, response_weight, resolution_weight, satisfaction_weight,
                  opinion_weight=None, thresholds: dict | None = None, grade_points: dict | None = None,
                  note: str | None = None, at: datetime | None = None) -> dict:
    """Store a new settings version (weights are shares, any positive scale; thresholds are
    scores 0–100 for excellent ≥ good ≥ fair). Returns the new version as a dict."""
    base = current_settings(session)
    if opinion_weight is None:
        opinion_weight = base["opinion_weight"]
    weights = []
    for name, value in (("response_weight", response_weight), ("resolution_weight", resolution_weight),
                        ("satisfaction_weight", satisfaction_weight), ("opinion_weight", opinion_weight)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise AssessmentError(f"{name} 应为数字") from None
        if number < 0:
            raise AssessmentError(f"{name} 不能为负数")
        weights.append(number)
    if sum(weights) <= 0:
        raise AssessmentError("权重之和必须大于 0")
    th = {k: float(v) for k, v in (thresholds or base["thresholds"]).items()}
    if set(th) != {"excellent", "good", "fair"}:
        raise AssessmentError("等次分数线应包含 excellent、good、fair")
    if not (100 >= th["excellent"] >= th["good"] >= th["fair"] >= 0):
        raise AssessmentError("等次分数线应满足 100 ≥ 优秀 ≥ 良好 ≥ 一般 ≥ 0")
    gp = {k: float(v) for k, v in (grade_points or base["grade_points"]).items()}
    if set(gp) != set(GRADES) or any(not 0 <= v <= 100 for v in gp.values()):
        raise AssessmentError("评价等次分值应为 excellent/good/fair/poor 各 0–100 分")
    version = (session.scalar(select(func.max(AssessmentSettings.version))) or 0) + 1
    row = AssessmentSettings(version=version, response_weight=weights[0], resolution_weight=weights[1],
                             satisfaction_weight=weights[2], opinion_weight=weights[3], thresholds=th, grade_points=gp, note=note,
                             created_by=actor, created_at=at or now())
    session.add(row)
    session.flush()
    return _snapshot(row)


# -- scoring ---------------------------------------------------------------------------------

_LOWER = {"excellent": "good", "good": "fair", "fair": "poor", "poor": "poor"}


def grade_for(score: float | None, settings: dict) -> str | None:
    if score is None:
        return None
    th = settings["thresholds"]
    for grade in ("excellent", "good", "fair"):
        if score >= float(th[grade]):
            return grade
    return "poor"


class Tally:
    """Counts of one group of evaluations (filled from SQL aggregate rows)."""

    def __init__(self):
        self.n = 0
        self.reported_on_time = 0
        self.completed_on_time = 0
        self.grades = Counter()            # the overall grade
        self.result_points_cells = Counter()  # (result, complete_overdue) -> count
        self.rate_sum = 0.0
        self.rate_n = 0

    def add(self, *, count, result, grade, report_overdue, complete_overdue, rate_sum, rate_n):
        self.n += count
        if not report_overdue:
            self.reported_on_time += count
        if not complete_overdue:
            self.completed_on_time += count
        self.grades[grade] += count
        self.result_points_cells[(result, bool(complete_overdue))] += count
        self.rate_sum += float(rate_sum or 0)
        self.rate_n += int(rate_n or 0)

    def merge(self, other: "Tally"):
        self.n += other.n
        self.reported_on_time += other.reported_on_time
        self.completed_on_time += other.completed_on_time
        self.grades.update(other.grades)
        self.result_points_cells.update(other.result_points_cells)
        self.rate_sum += other.rate_sum
        self.rate_n += other.rate_n

    def scores(self, settings: dict) -> dict:
        """The components, the score and the grade under `settings` (see the module doc)."""
        if self.n == 0:
            return {"response_score": None, "resolution_score": None, "satisfaction_score": None,
                    "opinion_score": None, "score": None, "grade": None, "satisfaction_rate": None}
        points = settings["grade_points"]
        response = 100.0 * self.reported_on_time / self.n
        total_points = sum(float(points[_LOWER[r] if late else r]) * c
                           for (r, late), c in self.result_points_cells.items())
        resolution = total_points / self.n
        satisfaction = self.rate_sum / self.rate_n if self.rate_n else None
        graded = sum(c for g, c in self.grades.items() if g in points)
        opinion = sum(float(points[g]) * c for g, c in self.grades.items() if g in points) / graded if graded else None
        parts = [(float(settings["response_weight"]), response), (float(settings["resolution_weight"]), resolution)]
        if opinion is not None:
            parts.append((float(settings.get("opinion_weight") or 0), opinion))
        if satisfaction is not None:
            parts.append((float(settings["satisfaction_weight"]), satisfaction))
        weight = sum(w for w, _ in parts)
        score = _d1(sum(w * v for w, v in parts) / weight) if weight > 0 else None
        return {"response_score": _d1(response), "resolution_score": _d1(resolution),
                "satisfaction_score": _d1(satisfaction), "opinion_score": _d1(opinion), "score": score,
                "grade": grade_for(score, settings),
                "satisfaction_rate": _d1(satisfaction)}


def evaluation_tallies(session, year: int | None = None, *, start: datetime | None = None,
                       end: datetime | None = None, department_id: str | None = None,
                       street_id: str | None = None, district_id: str | None = None) -> dict[tuple[str, str], Tally]:
    """R16 aggregation: {(department id, street id): Tally} over the evaluations of `year`
    (or of [start, end)), computed with one grouped SQL query."""
    if year is not None:
        start, end = year_bounds(year)
    report_late = func.coalesce(Evaluation.facts["report_overdue"].as_boolean(), False)
    complete_late = func.coalesce(Evaluation.facts["complete_overdue"].as_boolean(), False)
    rate = Evaluation.facts["satisfaction_rate"].as_float()
    stmt = (select(Evaluation.department_id, Whistle.street_id, Evaluation.result, Evaluation.grade,
                   report_late, complete_late, func.count(), func.sum(rate), func.count(rate))
            .join(Whistle, Whistle.id == Evaluation.whistle_id)
            .group_by(Evaluation.department_id, Whistle.street_id, Evaluation.result, Evaluation.grade,
                      report_late, complete_late))
    if start is not None:
        stmt = stmt.where(Evaluation.at >= start)
    if end is not None:
        stmt = stmt.where(Evaluation.at < end)
    if department_id:
        stmt = stmt.where(Evaluation.department_id == department_id)
    if street_id:
        stmt = stmt.where(Whistle.street_id == street_id)
    if district_id:
        stmt = stmt.where(Whistle.district_id == district_id)
    out: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for dept, street, result, grade, r_late, c_late, count, rate_sum, rate_n in session.execute(stmt):
        out[(dept, street)].add(count=count, result=result, grade=grade, report_overdue=bool(r_late),
                                complete_overdue=bool(c_late), rate_sum=rate_sum, rate_n=rate_n)
    return dict(out)


def evaluation_summary(session, year: int | None = None, *, by: str = "department",
                       settings: dict | None = None, **filters) -> list[dict]:
    """R16 per-whistle evaluations totalled `by` 'department' | 'street' | 'department_street',
    scored with `settings` (default: the current ones). Plain dicts, sorted by key."""
    settings = settings or current_settings(session)
    groups: dict[tuple, Tally] = defaultdict(Tally)
    for (dept, street), tally in evaluation_tallies(session, year, **filters).items():
        key = {"department": (dept,), "street": (street,), "department_street": (dept, street)}[by]
        groups[key].merge(tally)
    rows = []
    for key, t in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        row = {"evaluations": t.n, "reported_on_time": t.reported_on_time,
               "completed_on_time": t.completed_on_time, **{g: t.grades.get(g, 0) for g in GRADES},
               **t.scores(settings)}
        if by in ("department", "department_street"):
            row = {"department_id": key[0], "department_name": unit_name(session, key[0]), **row}
        if by in ("street", "department_street"):
            street = key[-1]
            row = {"street_id": street, "street_name": unit_name(session, street), **row}
        rows.append(row)
    return rows


# -- the year's rows -------------------------------------------------------------------------

def get_year(session, year: int) -> AssessmentYear | None:
    return session.scalar(select(AssessmentYear).where(AssessmentYear.year == int(year)))


def _department_org(session, department_id: str) -> tuple[str, str]:
    """(level, org unit id) of a department: a district's departments are reviewed by that
    district's org department, the city's by the city's."""
    unit = get_unit(session, department_id)
    parent = get_unit(session, unit.parent_id) if unit is not None else None
    if parent is not None and parent.kind == "district":
        return "district", parent.id
    return "city", CITY_ID


def urban_district_ids(session) -> list[str]:
    ids = list(session.scalars(select(Unit.id).where(Unit.kind == "district",
                                                     Unit.name.in_(URBAN_DISTRICT_NAMES)).order_by(Unit.id)))
    return ids


def aggregate(session, year: int, *, actor: str | None = None, at: datetime | None = None) -> AssessmentYear:
    """R17: total each department's evaluations of `year` by street and in total with the
    current settings; (re)writes the draft rows of a year that is not frozen."""
    from .stats import stats
    at = at or now()
    row = get_year(session, year)
    if row is None:
        row = AssessmentYear(year=int(year), status="scheduled", created_at=at, started_by=actor)
        session.add(row)
        session.flush()
    if row.frozen:
        raise AssessmentError(f"{year} 年度考核结果已发布并冻结，不能重新汇总")
    for model in (AssessmentResult, StreetRecommendation, OrgReview, DistrictWorkAssessment):
        for old in session.scalars(select(model).where(model.year_id == row.id)):
            session.delete(old)
    session.flush()
    settings = current_settings(session)
    row.settings_version, row.settings_snapshot = settings["version"], settings
    totals: dict[str, Tally] = defaultdict(Tally)
    for (dept, street), tally in sorted(evaluation_tallies(session, year).items(),
                                        key=lambda kv: (kv[0][0], kv[0][1] or "")):
        level, org = _department_org(session, dept)
        session.add(_result_row(row, dept, level, org, street, tally, settings))
        totals[dept].merge(tally)
    for dept, tally in sorted(totals.items()):
        level, org = _department_org(session, dept)
        session.add(_result_row(row, dept, level, org, None, tally, settings))
    for district_id in urban_district_ids(session):
        figures = stats(session, year=year, district=district_id)
        session.add(DistrictWorkAssessment(year_id=row.id, district_id=district_id,
                                           figures={"totals": figures["totals"], "rates": figures["rates"]}))
    row.status, row.aggregated_at = "street_review", at
    session.flush()
    return row


def _result_row(year_row, dept, level, org, street, tally: Tally, settings) -> AssessmentResult:
    s = tally.scores(settings)
    return AssessmentResult(
        year_id=year_row.id, department_id=dept, department_level=level, org_unit_id=org, street_id=street,
        evaluations=tally.n, whistles=tally.n, reported_on_time=tally.reported_on_time,
        completed_on_time=tally.completed_on_time, excellent=tally.grades.get("excellent", 0),
        good=tally.grades.get("good", 0), fair=tally.grades.get("fair", 0), poor=tally.grades.get("poor", 0),
        satisfaction_rate=s["satisfaction_rate"], response_score=s["response_score"],
        resolution_score=s["resolution_score"], satisfaction_score=s["satisfaction_score"],
        opinion_score=s["opinion_score"], score=s["score"], computed_grade=s["grade"])


def _require_open_year(session, year_or_id) -> AssessmentYear:
    row = get_year(session, year_or_id)
    if row is None:
        raise AssessmentError(f"{year_or_id} 年度考核不存在")
    if row.frozen:
        raise AssessmentError(f"{row.year} 年度考核结果已冻结")
    return row


def _grade_lists(excellent=(), good=(), fair=(), poor=()) -> dict[str, str]:
    """{department id: grade} from the four lists of a form (the first list naming a department wins)."""
    out: dict[str, str] = {}
    for grade, ids in (("excellent", excellent), ("good", good), ("fair", fair), ("poor", poor)):
        for d in ids or []:
            out.setdefault(str(d), grade)
    return out


def record_recommendation(session, year: int, street_id: str, *, opinion: str | None, grades: dict,
                          actor=None, at=None) -> StreetRecommendation:
    """R17: the street's recommended grade of each department it evaluated this year (the
    computed grade unless `grades` changes it)."""
    row = _require_open_year(session, year)
    results = list(session.scalars(select(AssessmentResult).where(AssessmentResult.year_id == row.id,
                                                                  AssessmentResult.street_id == street_id)))
    known = {r.department_id for r in results}
    unknown = sorted(set(grades) - known)
    if unknown:
        raise AssessmentError(f"街道 {street_id} 本年度未评价这些部门：{', '.join(unknown)}")
    for r in results:
        r.recommended_grade = grades.get(r.department_id, r.computed_grade)
        r.street_opinion = opinion
    rec = session.scalar(select(StreetRecommendation).where(StreetRecommendation.year_id == row.id,
                                                            StreetRecommendation.street_id == street_id))
    if rec is None:
        rec = StreetRecommendation(year_id=row.id, street_id=street_id)
        session.add(rec)
    rec.opinion, rec.grades, rec.by, rec.at = opinion, {r.department_id: r.recommended_grade for r in results}, actor, at or now()
    session.flush()
    return rec


def assessable_departments(session, year: int, *, street_id: str | None = None,
                           review_unit_id: str | None = None) -> list[str]:
    """The departments a street recommends grades for (its results of the year), or that an org
    department reviews (the department totals it is the reviewing unit of), sorted."""
    row = _require_open_year(session, year)
    stmt = select(AssessmentResult.department_id).where(AssessmentResult.year_id == row.id)
    if street_id is not None:
        stmt = stmt.where(AssessmentResult.street_id == street_id)
    else:
        stmt = stmt.where(AssessmentResult.street_id.is_(None), AssessmentResult.org_unit_id == review_unit_id)
    return sorted(set(session.scalars(stmt)))


def _recommended_total(session, year_row, department_id) -> str | None:
    """A department's recommended grade in total: the grade its streets recommended for most of
    its evaluations (ties and missing recommendations: its computed total grade)."""
    weight = Counter()
    total = None
    for r in session.scalars(select(AssessmentResult).where(AssessmentResult.year_id == year_row.id,
                                                            AssessmentResult.department_id == department_id)):
        if r.street_id is None:
            total = r
        elif r.recommended_grade:
            weight[r.recommended_grade] += r.evaluations
    if not weight:
        return total.computed_grade if total else None
    best = weight.most_common()
    if len(best) > 1 and best[0][1] == best[1][1]:
        return total.computed_grade if total else best[0][0]
    return best[0][0]


def record_review(session, year: int, org_unit_id: str, *, opinion: str | None, grades: dict,
                  actor=None, at=None) -> OrgReview:
    """R17: the org department (district for district departments, city for city ones) reviews
    the recommendations: each department's reviewed grade (default: its recommended total)."""
    row = _require_open_year(session, year)
    totals = list(session.scalars(select(AssessmentResult).where(AssessmentResult.year_id == row.id,
                                                                 AssessmentResult.street_id.is_(None),
                                                                 AssessmentResult.org_unit_id == org_unit_id)))
    unknown = sorted(set(grades) - {r.department_id for r in totals})
    if unknown:
        raise AssessmentError(f"这些部门不由 {org_unit_id} 审核：{', '.join(unknown)}")
    for r in totals:
        r.recommended_grade = _recommended_total(session, row, r.department_id)
        r.reviewed_grade = grades.get(r.department_id, r.recommended_grade)
        r.review_opinion = opinion
    review = session.scalar(select(OrgReview).where(OrgReview.year_id == row.id, OrgReview.org_unit_id == org_unit_id))
    if review is None:
        review = OrgReview(year_id=row.id, org_unit_id=org_unit_id)
        session.add(review)
    review.opinion, review.grades, review.by, review.at = opinion, {r.department_id: r.reviewed_grade for r in totals}, actor, at or now()
    session.flush()
    return review


def record_district_work(session, year: int, district_id: str, *, grade: str, opinion: str | None,
                         actor=None, at=None) -> DistrictWorkAssessment:
    """R18: the city's assessment of an urban district's own work on the mechanism."""
    if grade not in GRADES:
        raise AssessmentError(f"grade 应为 {'/'.join(GRADES)}")
    row = _require_open_year(session, year)
    item = session.scalar(select(DistrictWorkAssessment).where(DistrictWorkAssessment.year_id == row.id,
                                                               DistrictWorkAssessment.district_id == district_id))
    if item is None:
        raise AssessmentError(f"{district_id} 不在本年度区级工作考核范围内")
    item.grade, item.opinion, item.by, item.at = grade, opinion, actor, at or now()
    session.flush()
    return item


def set_status(session, year: int, status: str) -> None:
    row = _require_open_year(session, year)
    row.status = status


def publish(session, year: int, *, actor=None, at=None) -> AssessmentYear:
    """Freeze the year: final grades (org review, else street recommendation, else computed)."""
    row = _require_open_year(session, year)
    for r in session.scalars(select(AssessmentResult).where(AssessmentResult.year_id == row.id)):
        r.final_grade = r.reviewed_grade or r.recommended_grade or r.computed_grade
    row.frozen, row.status = True, "published"
    row.published_at, row.published_by = at or now(), actor
    session.flush()
    return row


# -- starting the process --------------------------------------------------------------------

def start_at(year: int, adjustments=None) -> datetime:
    """When the timer start of `year` fires: 09:00 on the first working day after the year ended,
    so that the aggregation holds every evaluation of the year, December included (R17).
    New Year's Day is a statutory holiday every year, also where no arrangement is known yet."""
    day = date(int(year) + 1, 1, 2)
    while not is_workday(day, adjustments):
        day += timedelta(days=1)
    return datetime.combine(day, START_TIME, TZ)


def year_has_ended(year: int, at: datetime) -> bool:
    return at >= year_bounds(int(year))[1]


def schedule_year(session, year: int, *, actor: str | None = None, at: datetime | None = None):
    """The timer start: an instance of `annual_assessment` for `year` waiting on its timer start
    event until `start_at(year)` (idempotent) → the AssessmentYear row. A year whose start has
    already passed is not scheduled (→ None): its timer would fire at once; city_org starts it."""
    from engine import runtime
    from .calendar_days import calendar_adjustments
    at = at or now()
    row = get_year(session, year)
    if row is not None and (row.instance_id is not None or row.frozen):
        return row
    due = start_at(year, calendar_adjustments(session, date(int(year) + 1, 1, 1)))
    if due <= at:
        return None
    if row is None:
        row = AssessmentYear(year=int(year), status="scheduled", started_by=actor, created_at=at)
        session.add(row)
        session.flush()
    instance = runtime.start(session, PROCESS_ID, {"year": int(year), "assessment_start_at": iso(due),
                                                   "manual": False, "city_id": CITY_ID},
                             actor=actor, business_key=f"assessment-{year}", now=at)
    row.instance_id = instance.id
    session.flush()
    return row


def schedule_current_year(session, *, actor: str | None = None, at: datetime | None = None):
    """Schedule the timer start of the running year (Asia/Shanghai) if it is not yet: what
    `whistle init` does on a fresh install → the AssessmentYear row, or None."""
    at = at or now()
    return schedule_year(session, at.astimezone(TZ).year, actor=actor, at=at)


def start_assessment(session, year: int, *, actor: str | None, at: datetime | None = None):
    """city_org starts the assessment of `year` now (before or instead of its timer start); only
    once the year has ended, so that December's evaluations are in it (R17)."""
    from engine import runtime
    at = at or now()
    if not year_has_ended(year, at):
        raise AssessmentError(f"{year} 年尚未结束，年度考核须在年度结束后进行（含 12 月的评价）")
    row = get_year(session, year)
    if row is not None and (row.frozen or row.status != "scheduled"):
        raise AssessmentError(f"{year} 年度考核已在进行或已发布（{row.status}）")
    # the timer start event fires once its instant has passed: one second before now
    instance = runtime.start(session, PROCESS_ID, {"year": int(year), "assessment_start_at": iso(at - timedelta(seconds=1)),
                                                   "manual": True, "city_id": CITY_ID},
                             actor=actor, business_key=f"assessment-{year}", now=at)
    return instance


def claim(session, year: int, instance_id: int, manual: bool, *, actor=None) -> bool:
    """Whether this instance runs the year's assessment: a manual start takes over a year that is
    still only scheduled; a timer start runs only if it is still the year's instance."""
    row = get_year(session, year)
    if row is None:
        row = AssessmentYear(year=int(year), status="scheduled", started_by=actor, created_at=now())
        session.add(row)
        session.flush()
    if row.frozen or row.status != "scheduled":
        return False
    if manual or row.instance_id in (None, instance_id):
        row.instance_id = instance_id
        row.started_by = row.started_by or actor
        return True
    return False


# -- reading ---------------------------------------------------------------------------------

def _result_dict(session, r: AssessmentResult) -> dict:
    return {"department_id": r.department_id, "department_name": unit_name(session, r.department_id),
            "department_level": r.department_level, "org_unit_id": r.org_unit_id,
            "street_id": r.street_id, "street_name": unit_name(session, r.street_id) if r.street_id else None,
            "evaluations": r.evaluations, "reported_on_time": r.reported_on_time,
            "completed_on_time": r.completed_on_time, "excellent": r.excellent, "good": r.good,
            "fair": r.fair, "poor": r.poor, "satisfaction_rate": r.satisfaction_rate,
            "response_score": r.response_score, "resolution_score": r.resolution_score,
            "satisfaction_score": r.satisfaction_score, "opinion_score": r.opinion_score, "score": r.score,
            "computed_grade": r.computed_grade, "recommended_grade": r.recommended_grade,
            "street_opinion": r.street_opinion, "reviewed_grade": r.reviewed_grade,
            "review_opinion": r.review_opinion, "final_grade": r.final_grade}


def annual_results(session, year: int) -> dict | None:
    """The stored assessment of `year`: status, settings snapshot, department totals, the
    per-street rows, the street recommendations, the reviews and the district work (R18)."""
    row = get_year(session, year)
    if row is None:
        return None
    results = list(session.scalars(select(AssessmentResult).where(AssessmentResult.year_id == row.id)
                                   .order_by(AssessmentResult.department_id, AssessmentResult.street_id)))
    return {
        "year": row.year, "status": row.status, "frozen": row.frozen, "instance_id": row.instance_id,
        "settings_version": row.settings_version, "settings": row.settings_snapshot,
        "aggregated_at": iso(row.aggregated_at), "published_at": iso(row.published_at),
        "published_by": row.published_by,
        "departments": [_result_dict(session, r) for r in results if r.street_id is None],
        "by_street": [_result_dict(session, r) for r in results if r.street_id is not None],
        "street_recommendations": [{"street_id": s.street_id, "street_name": unit_name(session, s.street_id),
                                    "opinion": s.opinion, "grades": s.grades, "by": s.by, "at": iso(s.at)}
                                   for s in session.scalars(select(StreetRecommendation).where(
                                       StreetRecommendation.year_id == row.id).order_by(StreetRecommendation.street_id))],
        "org_reviews": [{"org_unit_id": o.org_unit_id, "org_unit_name": unit_name(session, o.org_unit_id),
                         "opinion": o.opinion, "grades": o.grades, "by": o.by, "at": iso(o.at)}
                        for o in session.scalars(select(OrgReview).where(OrgReview.year_id == row.id)
                                                 .order_by(OrgReview.org_unit_id))],
        "district_work": [{"district_id": d.district_id, "district_name": unit_name(session, d.district_id),
                           "figures": d.figures, "grade": d.grade, "opinion": d.opinion, "by": d.by,
                           "at": iso(d.at)}
                          for d in session.scalars(select(DistrictWorkAssessment).where(
                              DistrictWorkAssessment.year_id == row.id).order_by(DistrictWorkAssessment.district_id))],
    }


def process_lists(session, year: int) -> dict:
    """What the process iterates over after aggregation: streets, reviewing org units, districts."""
    row = get_year(session, year)
    results = list(session.scalars(select(AssessmentResult).where(AssessmentResult.year_id == row.id)))
    return {"assessment_id": row.id,
            "street_ids": sorted({r.street_id for r in results if r.street_id}),
            "review_unit_ids": sorted({r.org_unit_id for r in results if r.street_id is None}),
            "district_ids": sorted(d.district_id for d in session.scalars(
                select(DistrictWorkAssessment).where(DistrictWorkAssessment.year_id == row.id))),
            "settings_version": row.settings_version}
