"""Administrators: the official holiday arrangement (节假日安排) the working-day deadlines use
where the `chinese-calendar` package does not know the year yet (or to correct it)."""
from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.clock import now
from governance.calendar import is_workday, local_date, package_covers, package_last_year
from governance.calendar_days import (FIRST_YEAR, LAST_YEAR, CalendarError, CalendarImportError,
                                      import_calendar_csv, list_days, parse_day, remove_day, set_day)

from ..auth import roles_required
from ..db import db, write

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")

MAX_UPLOAD = 1024 * 1024
MAX_ERRORS_SHOWN = 20


@bp.before_request
@roles_required("admin")
def _admin_only():
    return None


def _year(value) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError):
        return local_date(now()).year
    return year if FIRST_YEAR <= year <= LAST_YEAR else local_date(now()).year


def _back(year=None):
    return redirect(url_for(".index", year=year))


@bp.get("")
def index():
    year = _year(request.args.get("year"))
    days = list_days(db(), year)
    weekdays = [_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")]
    return render_template("admin/calendar.html", year=year, days=days, weekdays=weekdays,
                           last_year=package_last_year(), covered=package_covers(year),
                           default_workday=is_workday)


@bp.post("")
def save():
    form = request.form
    try:
        day = parse_day(form.get("day"))
        if form.get("type") not in ("holiday", "workday"):
            raise CalendarError(_("请选择类型。"))
        workday = form.get("type") == "workday"
        with write() as tx:
            set_day(tx, day, workday, form.get("name"), form.get("note"), current_user.username)
    except CalendarError as exc:
        flash(_("未保存：%(why)s", why=str(exc)), "danger")
        return _back(_year(form.get("year")))
    flash(_("已保存 %(d)s（%(t)s）。", d=day.isoformat(), t=_("调休上班") if workday else _("放假")), "success")
    return _back(day.year)


@bp.post("/delete")
def delete():
    try:
        day = parse_day(request.form.get("day"))
    except CalendarError as exc:
        flash(_("未删除：%(why)s", why=str(exc)), "danger")
        return _back()
    with write() as tx:
        removed = remove_day(tx, day)
    if removed:
        flash(_("已删除 %(d)s 的录入，该日按日历软件包计算。", d=day.isoformat()), "success")
    else:
        flash(_("%(d)s 没有录入。", d=day.isoformat()), "warning")
    return _back(day.year)


@bp.post("/import")
def import_csv():
    year = _year(request.form.get("year"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("请选择 CSV 文件。"), "danger")
        return _back(year)
    raw = upload.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        flash(_("文件过大（最多 1 MB）。"), "danger")
        return _back(year)
    try:
        with write() as tx:
            result = import_calendar_csv(tx, io.BytesIO(raw), actor=current_user.username)
    except CalendarImportError as exc:
        for error in exc.errors[:MAX_ERRORS_SHOWN]:
            flash(str(error), "danger")
        if len(exc.errors) > MAX_ERRORS_SHOWN:
            flash(_("另有 %(n)d 处错误未列出。", n=len(exc.errors) - MAX_ERRORS_SHOWN), "danger")
        flash(_("文件未导入，请修改后重试。"), "danger")
        return _back(year)
    flash(_("导入完成：新增 %(c)d 天，更新 %(u)d 天。", c=len(result.created), u=len(result.updated)), "success")
    days = result.created + result.updated
    return _back(min(days).year if days else year)
