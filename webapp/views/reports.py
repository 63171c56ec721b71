"""R20 figures for the organisation departments (dashboard), the public summary, the R16
evaluation summary, and the exports (register, evaluations, figures, annual assessment) with
a background job whose progress the page polls.

The dashboard and GET /api/v1/stats both call `dashboard_figures` (one function, one scope rule):
district_org sees its own district only, city_org and admin everything.
"""
from __future__ import annotations

import io
import threading
from datetime import date

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from governance import export_jobs, exports
from governance.assessment import GRADE_NAMES, evaluation_summary
from governance.directory import CATEGORIES, children, departments, get_unit, units
from governance.stats import FILTER_KEYS, YEARS, StatsError, normalise_filters, stats

from ..terms import localized_figures
from ..db import db

bp = Blueprint("reports", __name__)

# a background export's errors are stored in Chinese (governance.export_jobs) and shown in the
# reader's language
EXPORT_ERRORS = (_l("导出失败，请稍后再试。"), _l("导出中断，请重新导出。"))

DASHBOARD_ROLES = ("district_org", "city_org", "admin")
EVALUATION_ROLES = ("street", "district_org", "city_org", "policy_staff", "admin")
ASSESSMENT_ROLES = ("district_org", "city_org", "policy_staff", "admin")
# R20: what each figure counts, shown next to it on the dashboard and the public summary
FIGURE_DEFINITIONS = {
    "reported": _l("所选期间上报的吹哨事项件数（按上报日期）。"),
    "solved": _l("以解决办结的事项：社区就地解决、街道协调解决或部门办结。不含下列三项。"),
    "cannot_solve": _l("部门答复无法解决后办结的事项，单独统计，不计入已解决。"),
    "closed_at_meeting": _l("社区党建联席会议研究后直接办结的事项，单独统计，不计入已解决。"),
    "long_term": _l("转为长效机制（形成制度文件）后办结的事项，单独统计，不计入已解决。"),
    "closed": _l("已办结归档的全部事项，不论办结方式。"),
    "open": _l("尚未办结归档的事项：吹哨事项减已办结。"),
    "overdue": _l("报到或办结超过期限（含经批准延期后的期限）的事项。"),
    "departments_reported": _l("在任务单上已到社区报到的不同牵头部门数。"),
    "on_time_report": _l("接到任务单 7 天内报到的任务单占已报到或已逾期任务单的比例。"),
    "on_time_completion": _l("在办结期限（含延期）内办结的任务单占已办结或已逾期任务单的比例。"),
    "extension": _l("已派单事项中经批准延期的比例。"),
    "satisfaction": _l("（满意 + 基本满意）人数 ÷ 测评人数，按每件事项最近一次测评计算。"),
}

BREAKDOWN_TITLES = {"district": "按区", "street": "按街道", "community": "按社区", "department": "按部门",
                    "category": "按类别", "month": "按月份"}


class ScopeError(Exception):
    """The officer may not see these figures (→ 403)."""


# -- the one scope rule of the dashboard and the API ---------------------------------------------

def dashboard_filters(user, args) -> dict:
    """The stats filters of request `args`, limited to what `user` may see (ScopeError if not)."""
    if user.role not in DASHBOARD_ROLES:
        raise ScopeError("role")
    f = {k: (str(args.get(k) or "")).strip() or None for k in FILTER_KEYS}
    for alias, key in (("date_from", "from"), ("date_to", "to")):
        if not f[key] and (args.get(alias) or "").strip():
            f[key] = args.get(alias).strip()
    if user.role == "district_org":
        if f["district"] and f["district"] != user.unit_id:
            raise ScopeError("district")
        f["district"] = user.unit_id
    return f


def dashboard_figures(session, user, args) -> dict:
    """Exactly what the dashboard shows and GET /api/v1/stats returns: governance.stats.stats
    over the scoped filters. Raises ScopeError (403) or StatsError (bad filter value)."""
    return stats(session, **dashboard_filters(user, args))


# -- option lists for the filters ------------------------------------------------------------------

def _year_choices(session) -> list[int]:
    this = date.today().year
    return list(range(this + 1, this - 6, -1))


def filter_options(session, user, f: dict) -> dict:
    district_scope = user.unit_id if user.role == "district_org" else None
    districts = [get_unit(session, district_scope)] if district_scope else units(session, "district")
    district = district_scope or f.get("district")
    streets = children(session, district, "street") if district else units(session, "street")
    if f.get("street"):
        communities = {f["street"]: children(session, f["street"], "community")}
    else:
        communities = {s.id: children(session, s.id, "community") for s in streets}
    depts = departments(session, "mas") + (departments(session, district) if district else
                                           [d for d in departments(session) if d.parent_id != "mas"])
    return {"years": _year_choices(session), "districts": [d for d in districts if d is not None],
            "streets": streets, "communities": communities, "street_names": {s.id: s.name for s in streets},
            "departments": depts, "categories": CATEGORIES, "district_locked": bool(district_scope)}


# -- pages -----------------------------------------------------------------------------------------

@bp.get("/dashboard")
@login_required
def dashboard():
    if current_user.role not in DASHBOARD_ROLES:
        abort(403)
    session = db()
    try:
        f = dashboard_filters(current_user, request.args)
    except ScopeError:
        abort(403)
    try:
        figures = stats(session, **f)
    except StatsError as exc:
        flash(_("筛选条件有误：%(why)s", why=str(exc)), "danger")
        f = dashboard_filters(current_user, {})
        figures = stats(session, **f)
    return render_template("reports/dashboard.html", figures=localized_figures(figures), f=f,
                           options=filter_options(session, current_user, f),
                           titles=BREAKDOWN_TITLES, export_args=_clean(f), definitions=FIGURE_DEFINITIONS)


@bp.get("/public/summary")
def public_summary():
    """R20 for everyone (no login): aggregate figures only, by year."""
    year = (request.args.get("year") or "").strip()
    try:
        figures = stats(db(), breakdowns=(), year=year or None)
    except StatsError:
        year, figures = "", stats(db(), breakdowns=())
    return render_template("reports/public.html", figures=figures, year=year,
                           years=_year_choices(db()), definitions=FIGURE_DEFINITIONS)


def evaluation_filters(user, args) -> dict:
    """year (int or None), district, street, department, scoped to the officer."""
    if user.role not in EVALUATION_ROLES:
        raise ScopeError("role")
    out = {k: (args.get(k) or "").strip() or None for k in ("year", "district", "street", "department")}
    if out["year"] is not None:
        try:
            out["year"] = int(out["year"])
        except ValueError:
            out["year"] = None
        if out["year"] is not None and not YEARS[0] <= out["year"] <= YEARS[1]:
            out["year"] = None   # a year no whistle can have (e.g. -1): all years, as for a malformed one
    if user.role == "district_org":
        if out["district"] and out["district"] != user.unit_id:
            raise ScopeError("district")
        out["district"] = user.unit_id
    if user.role == "street":
        if out["street"] and out["street"] != user.unit_id:
            raise ScopeError("street")
        out["street"] = user.unit_id
    return out


@bp.get("/evaluations")
@login_required
def evaluations():
    try:
        f = evaluation_filters(current_user, request.args)
    except ScopeError:
        abort(403)
    session = db()
    rows = evaluation_summary(session, f["year"], by="department", department_id=f["department"],
                              street_id=f["street"], district_id=f["district"])
    districts = units(session, "district") if current_user.role not in ("district_org", "street") else []
    streets = children(session, f["district"], "street") if f["district"] else units(session, "street")
    return render_template("reports/evaluations.html", rows=rows, f=f, grade_names=GRADE_NAMES,
                           years=_year_choices(session), districts=districts,
                           streets=streets if current_user.role != "street" else [],
                           departments=departments(session), export_args=_clean(f))


def _clean(f: dict) -> dict:
    return {k: v for k, v in f.items() if v not in (None, "")}


# -- exports ---------------------------------------------------------------------------------------

EXPORT_NAMES = {"register": "吹哨事项台账", "evaluations": "一哨一考核评价", "stats": "统计数据",
                "assessment": "年度考核评价"}


def export_call(user, kind: str, fmt: str, args):
    """(filename, callable(session, progress) -> bytes) for an export the officer may make;
    ScopeError (403), LookupError (404) or ValueError (400) otherwise."""
    if fmt not in exports.FORMATS:
        raise ValueError(fmt)
    stamp = date.today().strftime("%Y%m%d")
    if kind in ("register", "stats"):
        f = dashboard_filters(user, args)
        normalise_filters(f)    # a bad value is a 400 before any work starts
        fn = exports.export_register if kind == "register" else exports.export_stats
        return f"{EXPORT_NAMES[kind]}-{stamp}.{fmt}", lambda s, progress: fn(s, fmt, progress=progress, **f)
    if kind == "evaluations":
        f = evaluation_filters(user, args)
        return (f"{EXPORT_NAMES[kind]}{f['year'] or ''}-{stamp}.{fmt}",
                lambda s, progress: exports.export_evaluations(s, fmt, year=f["year"], progress=progress,
                                                               department=f["department"], street=f["street"],
                                                               district=f["district"]))
    if kind == "assessment":
        if user.role not in ASSESSMENT_ROLES:
            raise ScopeError("role")
        try:
            year = int(args.get("year") or "")
        except ValueError:
            raise ValueError("year") from None
        return (f"{EXPORT_NAMES[kind]}{year}-{stamp}.{fmt}",
                lambda s, progress: exports.export_assessment(s, year, fmt, progress=progress))
    raise LookupError(kind)


def _export_or_abort(kind, fmt, args):
    try:
        return export_call(current_user, kind, fmt, args)
    except ScopeError:
        abort(403)
    except LookupError:
        abort(404)
    except (ValueError, StatsError):
        abort(400)


MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8"}


@bp.get("/exports/<kind>.<fmt>")
@login_required
def export(kind, fmt):
    """The export at once (works without JavaScript; the pages use the job below when they can)."""
    name, call = _export_or_abort(kind, fmt, request.args)
    try:
        data = call(db(), None)
    except exports.ExportError as exc:
        flash(str(exc), "warning")
        return redirect(request.referrer or url_for("reports.dashboard"))
    return send_file(io.BytesIO(data), mimetype=MIMETYPES[fmt], as_attachment=True, download_name=name)


@bp.post("/exports/<kind>.<fmt>/jobs")
@login_required
def start_export(kind, fmt):
    name, call = _export_or_abort(kind, fmt, request.form)
    factory = current_app.extensions["sessions"]
    job_id = export_jobs.create(factory, current_user.id, name, fmt)
    threading.Thread(target=export_jobs.run, args=(factory, job_id, call), name=f"export-{job_id[:8]}",
                     daemon=True).start()
    return jsonify(id=job_id, status_url=url_for("reports.export_status", job_id=job_id)), 202


def _job(job_id):
    job = export_jobs.get(db(), job_id, current_user.id)
    if job is None:
        abort(404)
    return job


@bp.get("/exports/jobs/<job_id>")
@login_required
def export_status(job_id):
    job = _job(job_id)
    state, error = export_jobs.state_of(job)
    percent = 100 if state == "done" else (int(job.done * 100 / job.total) if job.total else 0)
    return jsonify(id=job.id, state=state, done=job.done, total=job.total, percent=percent,
                   error=_(error) if error else None, name=job.name,
                   download_url=url_for("reports.export_file", job_id=job.id) if state == "done" else None)


@bp.get("/exports/jobs/<job_id>/file")
@login_required
def export_file(job_id):
    job = _job(job_id)
    data = export_jobs.content(db(), job) if job.state == "done" else None
    if data is None:
        abort(404)
    return send_file(io.BytesIO(data), mimetype=MIMETYPES[job.fmt], as_attachment=True, download_name=job.name)