"""R17/R18 annual assessment: city_org starts a year's assessment; the results of a year (frozen or
not, with the settings used) with exports; policy staff edit the scoring weights (every save is a
new settings version) with the history."""
from __future__ import annotations


from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from engine.clock import now
from engine.errors import EngineError
from governance import assessment as A
from governance.calendar import local_date
from governance.joint_assessment_models import AssessmentYear

from ..db import db, write
from ..i18n import engine_error_message

bp = Blueprint("assessment", __name__)

VIEW_ROLES = ("district_org", "city_org", "policy_staff", "admin")
START_ROLES = ("city_org", "admin")
SETTINGS_ROLES = ("policy_staff", "admin")
STATUS_NAMES = {"scheduled": "已排期（年度结束后自动开始）", "street_review": "街道提出建议中", "org_review": "组织部审核中",
                "district_review": "城区本级工作考核中", "published": "已发布（已冻结）"}
WEIGHTS = (("response_weight", "响应（按时报到）权重"), ("resolution_weight", "办理（办理结果）权重"),
           ("satisfaction_weight", "满意度权重"), ("opinion_weight", "社区评价初步意见（总体等次）权重"))
THRESHOLDS = (("excellent", "优秀分数线"), ("good", "良好分数线"), ("fair", "一般分数线"))
POINTS = (("excellent", "评价“优秀”分值"), ("good", "评价“良好”分值"), ("fair", "评价“一般”分值"), ("poor", "评价“较差”分值"))


def _need(roles):
    if current_user.role not in roles:
        abort(403)


@bp.get("/assessment")
@login_required
def index():
    _need(VIEW_ROLES)
    years = list(db().scalars(select(AssessmentYear).order_by(AssessmentYear.year.desc())))
    return render_template("assessment/index.html", years=years, status_names=STATUS_NAMES,
                           can_start=current_user.role in START_ROLES, this_year=local_date(now()).year,
                           current=A.current_settings(db()))


@bp.post("/assessment/start")
@login_required
def start():
    _need(START_ROLES)
    try:
        year = int(request.form.get("year") or "")
        if not 2000 <= year <= local_date(now()).year:
            raise ValueError
    except ValueError:
        flash(_("请填写有效的考核年度。"), "danger")
        return redirect(url_for("assessment.index"))
    try:
        with write() as tx:
            instance = A.start_assessment(tx, year, actor=current_user.username)
            incident = instance.status == "incident"
    except A.AssessmentError as exc:
        flash(_("未能启动：%(why)s", why=str(exc)), "danger")
        return redirect(url_for("assessment.index"))
    except EngineError as exc:
        flash(engine_error_message(exc), "danger")
        return redirect(url_for("assessment.index"))
    if incident:
        flash(engine_error_message(type("E", (), {"code": "incident"})()), "danger")
    else:
        flash(_("已启动 %(year)d 年度考核：已汇总各部门评价，各街道将收到提出考核建议的任务。", year=year), "success")
    return redirect(url_for("assessment.results", year=year))


@bp.get("/assessment/<int:year>")
@login_required
def results(year):
    _need(VIEW_ROLES)
    data = A.annual_results(db(), year)
    return render_template("assessment/results.html", year=year, data=data, status_names=STATUS_NAMES,
                           grade_names=A.GRADE_NAMES, can_start=current_user.role in START_ROLES)


def _settings_page(form=None, errors=None, status=200):
    session = db()
    return render_template("assessment/settings.html", current=A.current_settings(session),
                           history=list(reversed(A.settings_history(session))), form=form, errors=errors or {},
                           weights=WEIGHTS, thresholds=THRESHOLDS, points=POINTS,
                           can_edit=current_user.role in SETTINGS_ROLES, grade_names=A.GRADE_NAMES), status


@bp.get("/assessment/settings")
@login_required
def settings():
    _need(VIEW_ROLES)
    return _settings_page()


@bp.post("/assessment/settings")
@login_required
def save_settings():
    _need(SETTINGS_ROLES)
    form = {k: (request.form.get(k) or "").strip() for k in
            [w for w, _l in WEIGHTS] + [f"th_{g}" for g, _l in THRESHOLDS] + [f"gp_{g}" for g, _l in POINTS] + ["note"]}
    errors = {}
    numbers = {}
    for key, value in form.items():
        if key == "note":
            continue
        try:
            numbers[key] = float(value)
        except ValueError:
            errors[key] = _("请填写数字。")
            continue
        if not 0 <= numbers[key] <= 100:
            errors[key] = _("应在 0 到 100 之间。")
    if len(form["note"]) > 500:
        errors["note"] = _("最多 %(limit)s 个字符。", limit=500)
    if not errors:
        try:
            with write() as tx:
                saved = A.save_settings(
                    tx, actor=current_user.username, response_weight=numbers["response_weight"],
                    resolution_weight=numbers["resolution_weight"], satisfaction_weight=numbers["satisfaction_weight"],
                    opinion_weight=numbers["opinion_weight"],
                    thresholds={g: numbers[f"th_{g}"] for g, _l in THRESHOLDS},
                    grade_points={g: numbers[f"gp_{g}"] for g, _l in POINTS}, note=form["note"] or None)
        except A.AssessmentError as exc:
            errors[""] = str(exc)
        else:
            flash(_("已保存评分设置第 %(v)d 版。之后开始的年度考核使用新设置，已冻结的年度不受影响。", v=saved["version"]),
                  "success")
            return redirect(url_for("assessment.settings"))
    flash(_("表单有误，请按提示修改。"), "danger")
    return _settings_page(form, errors, 422)
