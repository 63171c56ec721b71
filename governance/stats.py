"""R20: the figures by which the mechanism is judged — for the dashboard and GET /api/v1/stats.

    stats(session, year=2026, district="hs", category="交通出行")

Filters (all optional, combined with AND):
    year        calendar year of the report date (Whistle.created_at, Asia/Shanghai)
    from, to    report dates, inclusive (date, datetime or 'YYYY-MM-DD'); `date_from`/`date_to` too
    district, street, community   unit ids of the whistle's place
    department  whistles (and task orders) in which the department is lead or cooperating
    category    the whistle's category

Definitions (every figure is one SQL aggregate; nothing is loaded row by row):
    reported       whistles matching the filters
    closed         of those, closed (closed_at set), whatever the outcome   open = reported − closed
    solved         of those, closed as resolved (R20): resolved locally by the community, resolved
                   by the street's coordination, or completed by the departments
                   (Whistle.outcome in governance.register.SOLVED_OUTCOMES)
    cannot_solve   closed as "cannot be solved" (the city level's answer)
    closed_at_meeting  closed by the community's joint meeting without being solved
    long_term      closed into a standing mechanism (R15)
                   (a closure without a recorded outcome counts in `closed` only)
    overdue        whistles flagged report- or completion-overdue (R8, R10)
    dispatched     whistles with a task order                 extended = with ≥ 1 extension (R11)
    task_orders    task orders of those whistles
    departments_reported  distinct lead departments that reported for duty on an order
    on_time_report       % of orders reported within 7 days of the order (reported_at ≤ report_due),
                         out of the orders reported or flagged overdue (R8)
    on_time_completion   % of orders completed by their (extended) completion due date, out of the
                         orders completed or flagged overdue (R10)
    extension            % of dispatched whistles with an extension (R11)
    satisfaction         (satisfied + basically satisfied) / respondents × 100 over the latest
                         survey of each whistle (R12)

Returned JSON shape (stable; counts are ints, rates are percentages with one decimal or null):

    {"filters": {"year": 2026, "from": null, "to": null, "district": null, "street": null,
                 "community": null, "department": null, "category": null},
     "totals": {"reported": 0, "closed": 0, "solved": 0, "cannot_solve": 0, "closed_at_meeting": 0,
                "long_term": 0, "open": 0, "overdue": 0, "dispatched": 0,
                "extended": 0, "task_orders": 0, "departments_reported": 0,
                "surveys": 0, "respondents": 0, "satisfied": 0},
     "rates": {"on_time_report": 98.5, "on_time_completion": 95.0, "extension": 3.2,
               "satisfaction": 99.0},
     "by_district": [ROW], "by_street": [ROW], "by_community": [ROW],
     "by_department": [ROW], "by_category": [ROW], "by_month": [ROW]}

    ROW = {"id": "hs", "name": "花山区", "reported": 0, "closed": 0, "solved": 0, "cannot_solve": 0,
           "closed_at_meeting": 0, "long_term": 0, "open": 0, "overdue": 0,
           "dispatched": 0, "extended": 0, "task_orders": 0, "on_time_report_rate": null,
           "on_time_completion_rate": null, "extension_rate": null, "satisfaction_rate": null}

Breakdown rows are sorted by id; by_month ids are 'YYYY-MM' of the report date; by_department
groups whistles by their (current) lead department and orders by the order's lead department
(whistles without a lead department are not in it); `satisfied` counts satisfied + basically
satisfied answers.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import String, and_, case, cast, func, or_, select

from .calendar import TZ, to_utc
from .models import Survey, TaskOrder, Unit, Whistle
from .register import SOLVED_OUTCOMES

# closing outcomes counted apart from `solved`, each its own figure (R20)
APART_OUTCOMES = ("cannot_solve", "closed_at_meeting", "long_term")
FILTER_KEYS = ("year", "from", "to", "district", "street", "community", "department", "category")
BREAKDOWNS = ("district", "street", "community", "department", "category", "month")


class StatsError(ValueError):
    pass


def pct(numerator, denominator) -> float | None:
    """numerator / denominator × 100, one decimal, half up (None when the denominator is 0)."""
    if not denominator:
        return None
    return float((Decimal(int(numerator)) * 100 / Decimal(int(denominator)))
                 .quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


YEARS = (1900, 2999)   # the years a filter may name (beyond them dates cannot be counted)


def _day(value, name) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(TZ).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        raise StatsError(f"{name} 应为日期（YYYY-MM-DD），不是 {value!r}") from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise StatsError(f"{name} 应在 {YEARS[0]}—{YEARS[1]} 年之间，不是 {value!r}")
    return day


def normalise_filters(filters: dict) -> dict:
    """The filters with aliases resolved (date_from → from, date_to → to) and values checked."""
    f = dict(filters)
    if "date_from" in f:
        f["from"] = f.pop("date_from")
    if "date_to" in f:
        f["to"] = f.pop("date_to")
    unknown = set(f) - set(FILTER_KEYS)
    if unknown:
        raise StatsError(f"未知的筛选条件：{', '.join(sorted(unknown))}")
    out = {k: (f.get(k) or None) for k in FILTER_KEYS}
    if out["year"] is not None:
        try:
            out["year"] = int(out["year"])
        except (TypeError, ValueError):
            raise StatsError(f"year 应为年份，不是 {out['year']!r}") from None
        if not YEARS[0] <= out["year"] <= YEARS[1]:
            raise StatsError(f"year 应在 {YEARS[0]}—{YEARS[1]} 之间，不是 {out['year']!r}")
    out["from"], out["to"] = _day(out["from"], "from"), _day(out["to"], "to")
    return out


def _local_midnight(day: date) -> datetime:
    return to_utc(datetime.combine(day, time(0), TZ))


def whistle_conditions(f: dict) -> list:
    """SQL conditions on Whistle for normalised filters `f`."""
    conds = []
    if f["year"] is not None:
        conds += [Whistle.created_at >= _local_midnight(date(f["year"], 1, 1)),
                  Whistle.created_at < _local_midnight(date(f["year"] + 1, 1, 1))]
    if f["from"] is not None:
        conds.append(Whistle.created_at >= _local_midnight(f["from"]))
    if f["to"] is not None:
        conds.append(Whistle.created_at < _local_midnight(f["to"] + timedelta(days=1)))
    for key, column in (("district", Whistle.district_id), ("street", Whistle.street_id),
                        ("community", Whistle.community_id), ("category", Whistle.category)):
        if f[key] is not None:
            conds.append(column == f[key])
    if f["department"] is not None:
        conds.append(_involves(Whistle.lead_department_id, Whistle.cooperating_department_ids, f["department"]))
    return conds


def _involves(lead_column, coop_column, department_id: str):
    # department ids are [a-z0-9-]: the quoted id inside the JSON text cannot match by accident
    return or_(lead_column == department_id,
               cast(coop_column, String).like(f'%"{department_id}"%'))


def _order_conditions(f: dict) -> list:
    conds = whistle_conditions({**f, "department": None})
    if f["department"] is not None:
        conds.append(_involves(TaskOrder.lead_department_id, TaskOrder.cooperating_department_ids, f["department"]))
    return conds


def month_expression(session):
    """'YYYY-MM' of Whistle.created_at in Asia/Shanghai, in the session's SQL dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", Whistle.created_at), "YYYY-MM")
    return func.strftime("%Y-%m", Whistle.created_at, "+8 hours")


def _sum(cond):
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _whistle_counts(session, conds, key=None) -> dict:
    closed = Whistle.closed_at.is_not(None)
    cols = [func.count(Whistle.id), _sum(closed),
            _sum(and_(closed, Whistle.outcome.in_(SOLVED_OUTCOMES))),
            *(_sum(and_(closed, Whistle.outcome == o)) for o in APART_OUTCOMES),
            _sum(or_(Whistle.report_overdue.is_(True), Whistle.complete_overdue.is_(True))),
            _sum(Whistle.dispatched_at.is_not(None)), _sum(Whistle.extension_count > 0)]
    stmt = select(*(([key] if key is not None else []) + cols)).where(*conds)
    if key is not None:
        stmt = stmt.where(key.is_not(None)).group_by(key)
    out = {}
    for row in session.execute(stmt):
        k, values = (row[0], row[1:]) if key is not None else (None, row)
        reported, closed, solved, cannot, meeting, long_term, overdue, dispatched, extended = \
            (int(v or 0) for v in values)
        out[k] = {"reported": reported, "closed": closed, "solved": solved, "cannot_solve": cannot,
                  "closed_at_meeting": meeting, "long_term": long_term, "open": reported - closed,
                  "overdue": overdue, "dispatched": dispatched, "extended": extended}
    return out


def _order_counts(session, conds, key=None) -> dict:
    reported = TaskOrder.reported_at.is_not(None)
    completed = TaskOrder.completed_at.is_not(None)
    cols = [func.count(TaskOrder.id),
            _sum(or_(reported, TaskOrder.report_overdue.is_(True))),
            _sum(and_(reported, TaskOrder.reported_at <= TaskOrder.report_due)),
            _sum(or_(completed, TaskOrder.complete_overdue.is_(True))),
            _sum(and_(completed, TaskOrder.completed_at <= TaskOrder.complete_due)),
            func.count(func.distinct(case((reported, TaskOrder.lead_department_id), else_=None)))]
    stmt = (select(*(([key] if key is not None else []) + cols))
            .join(Whistle, Whistle.id == TaskOrder.whistle_id).where(*conds))
    if key is not None:
        stmt = stmt.where(key.is_not(None)).group_by(key)
    out = {}
    for row in session.execute(stmt):
        k, values = (row[0], row[1:]) if key is not None else (None, row)
        orders, r_due, r_on_time, c_due, c_on_time, depts = (int(v or 0) for v in values)
        out[k] = {"task_orders": orders, "report_decided": r_due, "reported_on_time": r_on_time,
                  "completion_decided": c_due, "completed_on_time": c_on_time, "departments_reported": depts}
    return out


def _survey_counts(session, conds, key=None) -> dict:
    latest = select(func.max(Survey.id).label("id")).group_by(Survey.whistle_id).subquery()
    cols = [func.count(Survey.id), func.coalesce(func.sum(Survey.respondents), 0),
            func.coalesce(func.sum(Survey.satisfied + Survey.basically_satisfied), 0)]
    stmt = (select(*(([key] if key is not None else []) + cols))
            .join(latest, latest.c.id == Survey.id).join(Whistle, Whistle.id == Survey.whistle_id).where(*conds))
    if key is not None:
        stmt = stmt.where(key.is_not(None)).group_by(key)
    out = {}
    for row in session.execute(stmt):
        k, values = (row[0], row[1:]) if key is not None else (None, row)
        surveys, respondents, satisfied = (int(v or 0) for v in values)
        out[k] = {"surveys": surveys, "respondents": respondents, "satisfied": satisfied}
    return out


_EMPTY_W = {"reported": 0, "closed": 0, "solved": 0, "cannot_solve": 0, "closed_at_meeting": 0, "long_term": 0,
            "open": 0, "overdue": 0, "dispatched": 0, "extended": 0}
_EMPTY_O = {"task_orders": 0, "report_decided": 0, "reported_on_time": 0, "completion_decided": 0,
            "completed_on_time": 0, "departments_reported": 0}
_EMPTY_S = {"surveys": 0, "respondents": 0, "satisfied": 0}


def _row(key, name, w, o, s) -> dict:
    return {"id": key, "name": name, **{k: w[k] for k in _EMPTY_W}, "task_orders": o["task_orders"],
            "on_time_report_rate": pct(o["reported_on_time"], o["report_decided"]),
            "on_time_completion_rate": pct(o["completed_on_time"], o["completion_decided"]),
            "extension_rate": pct(w["extended"], w["dispatched"]),
            "satisfaction_rate": pct(s["satisfied"], s["respondents"])}


def _names(session, ids) -> dict:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    return dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all())


def breakdown(session, by: str, f: dict) -> list[dict]:
    """Rows of one breakdown (`by` in BREAKDOWNS) for normalised filters `f`."""
    wc, oc = whistle_conditions(f), _order_conditions(f)
    if by == "month":
        wkey = okey = month_expression(session)
    elif by == "department":
        wkey, okey = Whistle.lead_department_id, TaskOrder.lead_department_id
    elif by in ("district", "street", "community", "category"):
        wkey = okey = {"district": Whistle.district_id, "street": Whistle.street_id,
                       "community": Whistle.community_id, "category": Whistle.category}[by]
    else:
        raise StatsError(f"unknown breakdown {by!r}")
    w, o, s = _whistle_counts(session, wc, wkey), _order_counts(session, oc, okey), _survey_counts(session, wc, wkey)
    keys = sorted(set(w) | set(o) | set(s), key=str)
    if by == "month":
        names = {k: f"{k[:4]}年{int(k[5:7])}月" for k in keys}
    elif by == "category":
        names = {k: k for k in keys}
    else:
        names = _names(session, keys)
    return [_row(k, names.get(k, k), w.get(k, _EMPTY_W), o.get(k, _EMPTY_O), s.get(k, _EMPTY_S)) for k in keys]


def totals(session, f: dict) -> tuple[dict, dict]:
    wc = whistle_conditions(f)
    w = _whistle_counts(session, wc).get(None, _EMPTY_W)
    o = _order_counts(session, _order_conditions(f)).get(None, _EMPTY_O)
    s = _survey_counts(session, wc).get(None, _EMPTY_S)
    t = {**{k: w[k] for k in _EMPTY_W}, "task_orders": o["task_orders"],
         "departments_reported": o["departments_reported"], **s}
    rates = {"on_time_report": pct(o["reported_on_time"], o["report_decided"]),
             "on_time_completion": pct(o["completed_on_time"], o["completion_decided"]),
             "extension": pct(w["extended"], w["dispatched"]),
             "satisfaction": pct(s["satisfied"], s["respondents"])}
    return t, rates


def stats(session, *, breakdowns=BREAKDOWNS, **filters) -> dict:
    """The R20 figures for `filters` (see the module doc for filters, definitions and shape)."""
    f = normalise_filters(filters)
    t, rates = totals(session, f)
    out = {"filters": {**f, "from": f["from"].isoformat() if f["from"] else None,
                       "to": f["to"].isoformat() if f["to"] else None},
           "totals": t, "rates": rates}
    for by in BREAKDOWNS:
        out[f"by_{by}"] = breakdown(session, by, f) if by in breakdowns else []
    return out
