"""Intake (R1): a grid worker or community officer reports a problem; the number is shown at once."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import EngineError
from governance import workspace
from governance.directory import CATEGORIES
from governance.register import RegisterError, report_whistle

from .. import intake_limits, uploads
from ..db import db, write
from ..extensions import limiter
from ..i18n import engine_error_message

bp = Blueprint("intake", __name__)

SOURCES = ("patrol", "platform")


def _refusal_text(reason) -> str:
    kind, what = reason
    if kind == "too_many":
        return _("最多上传 %(n)s 张照片。", n=what)
    if kind == "too_big":
        return _("照片“%(name)s”太大（每张最多 %(mb)s MB）。", name=what,
                 mb=current_app.config["MAX_PHOTO_BYTES"] // (1024 * 1024))
    if kind == "too_much":
        return _("照片合计太大（最多 %(mb)s MB）。", mb=round(max(what, 0) / (1024 * 1024), 1))
    return _("文件“%(name)s”不是图片（只接受 JPEG、PNG、GIF、WebP）。", name=what)


@bp.route("/report", methods=["GET", "POST"])
@login_required
@limiter.limit(intake_limits.intake_limit, key_func=intake_limits.intake_reporter, methods=["POST"])
def report():
    communities = workspace.intake_communities(db(), current_user)
    if not communities:
        abort(403)
    values = {"community_id": communities[0].id if len(communities) == 1 else "",
              "source": "patrol" if current_user.role == "grid_worker" else "platform"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        values = {k: (form.get(k) or "").strip() for k in
                  ("title", "category", "description", "location", "community_id", "reporter", "source")}
        if not values["title"]:
            errors["title"] = _("此项为必填项。")
        elif len(values["title"]) > 300:
            errors["title"] = _("最多 %(limit)s 个字符。", limit=300)
        if values["category"] and values["category"] not in CATEGORIES:
            errors["category"] = _("请从列表中选择一个有效的选项。")
        if values["community_id"] not in {c.id for c in communities}:
            errors["community_id"] = _("请从列表中选择一个有效的选项。")
        if values["source"] not in SOURCES:
            errors["source"] = _("请从列表中选择一个有效的选项。")
        for key, limit in (("description", 5000), ("location", 300), ("reporter", 200)):
            if len(values[key]) > limit:
                errors[key] = _("最多 %(limit)s 个字符。", limit=limit)
        checked = []
        try:
            checked = uploads.check(request.files.getlist("photos"))
        except uploads.UploadRefused as exc:
            errors["photos"] = _refusal_text(exc.args[0])
        if not errors:
            saved = uploads.store(checked)
            try:
                with write() as session:
                    whistle = report_whistle(
                        session, title=values["title"], description=values["description"] or None,
                        category=values["category"] or None, community_id=values["community_id"],
                        location=values["location"] or None, reporter=values["reporter"] or None,
                        source=values["source"], attachments=saved, actor=current_user.username)
                    number, wid = whistle.whistle_no, whistle.id
            except (RegisterError, EngineError) as exc:
                uploads.discard(saved)
                message = str(exc) if isinstance(exc, RegisterError) else engine_error_message(exc)
                flash(_("未能上报：%(reason)s", reason=message), "danger")
                return render_template("intake.html", communities=communities, categories=CATEGORIES,
                                       values=values, errors=errors), 422
            except BaseException:
                uploads.discard(saved)
                raise
            flash(_("已上报，吹哨编号 %(no)s。", no=number), "success")
            return redirect(url_for("whistles.show", whistle_id=wid, created=1))
        flash(_("表单有误，请按提示修改。"), "danger")
        return render_template("intake.html", communities=communities, categories=CATEGORIES,
                               values=values, errors=errors), 422
    return render_template("intake.html", communities=communities, categories=CATEGORIES,
                           values=values, errors=errors)
