"""Local choices (地方自定): policy staff view and edit the versioned settings the policy leaves
open (governance.policy_settings): each save is a new version with who, when and why; the
assessment weights and grade thresholds (their own versioned settings) are listed beside them."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from governance import assessment as A
from governance import policy_settings as S

from ..db import db, write

bp = Blueprint("policy_settings", __name__)

VIEW_ROLES = ("policy_staff", "district_org", "city_org", "admin")
EDIT_ROLES = ("policy_staff", "admin")

# (group title, [(key, label, unit, help)]) — every one a local choice, not set by the article
GROUPS = (
    (_l("短平快：派单前各环节时限（R19）"), (
        ("triage_days", _l("社区研判"), _l("个工作日"), None),
        ("street_coordinate_days", _l("街道协调"), _l("个工作日"), None),
        ("street_review_days", _l("街道审核"), _l("个工作日"), None),
        ("propose_days", _l("拟定责任部门"), _l("个工作日"), None),
        ("confirm_dispatch_days", _l("确认派单"), _l("个工作日"), None),
    )),
    (_l("征求意见（R7）"), (
        ("consultation_reply_days", _l("答复期限"), _l("个工作日"), _l("逾期未答复的按“未答复”处理，并通知本级组织部。")),
    )),
    (_l("社区党建联席会议（R3）"), (
        ("joint_meeting_day", _l("每季度首月的日期"), _l("日"), _l("遇休息日顺延至下一个工作日；社区可另行登记本季度的会议日期。")),
        ("joint_meeting_time", _l("开会时间"), _l("（时:分）"), None),
    )),
    (_l("满意度测评（R12）"), (
        ("rework_threshold", _l("满意率低于此值时返工"), "%", None),
    )),
    (_l("期限截止时间"), (
        ("end_of_day", _l("每个期限截止于工作日的"), _l("（时:分）"), _l("报到（7 天）和办结（一个季度）期限也截止于这一时间，遇休息日顺延。")),
    )),
)
KEYS = [key for _g, fields in GROUPS for key, *_rest in fields]


def _message(code: str, params: dict) -> str:
    if code == "required":
        return _("请填写此项。")
    if code == "number":
        return _("请填写数字。")
    if code == "whole":
        return _("请填写整数。")
    if code == "range":
        return _("应在 %(low)s 到 %(high)s 之间。", **params)
    if code == "time":
        return _("请按“时:分”填写，例如 17:30。")
    if code == "note_long":
        return _("最多 %(limit)s 个字符。", **params)
    return _("无法识别的设置项。")


def _page(form=None, errors=None, status=200):
    session = db()
    return render_template("settings/index.html", current=S.current(session), defaults=S.DEFAULTS,
                           history=list(reversed(S.history(session))), groups=GROUPS, form=form or {},
                           errors=errors or {}, can_edit=current_user.role in EDIT_ROLES,
                           assessment=A.current_settings(session)), status


@bp.get("/settings")
@login_required
def index():
    if current_user.role not in VIEW_ROLES:
        abort(403)
    return _page()


@bp.post("/settings")
@login_required
def save():
    if current_user.role not in EDIT_ROLES:
        abort(403)
    form = {key: (request.form.get(key) or "").strip() for key in KEYS}
    note = (request.form.get("note") or "").strip()
    try:
        with write() as tx:
            saved = S.save(tx, form, actor=current_user.username, note=note)
    except S.PolicySettingsError as exc:
        flash(_("表单有误，请按提示修改。未保存任何设置。"), "danger")
        errors = {key: _message(code, params) for key, (code, params) in exc.errors.items()}
        return _page({**form, "note": note}, errors, 422)
    flash(_("已保存设置第 %(v)d 版：之后计算的期限和日期按新设置，已经定下的不变。", v=saved["version"]), "success")
    return redirect(url_for("policy_settings.index"))
