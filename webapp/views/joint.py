"""R14 common problems (共性问题): candidate groups and whistles waiting at street review, opening
a joint matter from whistles of several communities, the joint matter page, unlinking before
dispatch. For streets (their own street) and the org departments (district_org: its district;
city_org and admin: everywhere)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import and_, select

from engine.errors import EngineError
from engine.models import InboxTask
from governance import joint as J
from governance.directory import CITY_ID, departments, unit_name
from governance.dispatch_scope import dispatchable, out_of_scope
from governance.register import row_id
from governance.joint_assessment_models import JointLink, JointMatter
from governance.models import Whistle
from governance.register import STAGES

from ..db import db, write
from ..i18n import engine_error_message

bp = Blueprint("joint", __name__)

ROLES = ("street", "district_org", "city_org", "admin")
STATUS_NAMES = {"open": "待派单", "dispatched": "已派单，部门办理中", "closed": "已办结", "cancelled": "已撤销"}
LEVEL_NAMES = {"district": "区级（区委组织部统筹）", "city": "市级（市委组织部统筹）"}
PERIODS = {"P1M": "1 个月", "P3M": "3 个月", "P6M": "6 个月", "P1Y": "1 年"}
MAX_SEEDS = 60


def _require_role():
    if current_user.role not in ROLES:
        abort(403)


def _scope():
    """SQL condition on Whistle for the current officer's area."""
    return J.area_condition(current_user.role, current_user.unit_id)


def _levels() -> list[str]:
    return ["district", "city"] if current_user.role in ("city_org", "admin") else ["district"]


def waiting_whistles(session) -> list[tuple[Whistle, InboxTask]]:
    """Whistles of the officer's area waiting in street review, not dispatched or joined yet."""
    stmt = (select(Whistle, InboxTask)
            .join(InboxTask, and_(InboxTask.instance_id == Whistle.instance_id, InboxTask.task == J.LINKABLE_TASK))
            .where(_scope(), Whistle.joint_id.is_(None), Whistle.task_order_no.is_(None),
                   Whistle.closed_at.is_(None))
            .order_by(Whistle.id.desc()).limit(500))
    return [(w, t) for w, t in session.execute(stmt)]


def candidate_groups(session, waiting: list[Whistle]) -> list[dict]:
    """Groups of waiting whistles from ≥ 2 communities that suggest_candidates finds alike."""
    ids = {w.id for w in waiting}
    by_id = {w.id: w for w in waiting}
    groups: list[dict] = []
    seen: list[frozenset] = []
    for seed in waiting[:MAX_SEEDS]:
        found = [c for c in J.suggest_candidates(session, seed, limit=20) if c["whistle_id"] in ids]
        members = frozenset([seed.id, *(c["whistle_id"] for c in found)])
        if len({by_id[i].community_id for i in members}) < 2 or any(members <= s for s in seen):
            continue
        seen = [s for s in seen if not s <= members] + [members]
        reasons = {c["whistle_id"]: c["reasons"] for c in found}
        groups = [g for g in groups if not frozenset(g["ids"]) <= members]
        groups.append({"ids": sorted(members), "seed": seed,
                       "whistles": [by_id[i] for i in sorted(members)],
                       "reasons": reasons,
                       "score": max((c["score"] for c in found), default=0)})
    groups.sort(key=lambda g: (-len(g["ids"]), -g["score"]))
    return groups


def _page(session, form: dict | None = None, errors: dict | None = None, status: int = 200):
    rows = waiting_whistles(session)
    waiting = [w for w, _t in rows]
    selected = {int(x) for x in (form or {}).get("whistle_ids", []) if row_id(str(x)) is not None}
    if not form and request.args.get("select"):
        selected = {int(x) for x in request.args["select"].split(",") if row_id(x) is not None}
    # R5/R6: a district org department suggests only its district's departments
    district = current_user.unit_id if current_user.role == "district_org" else None
    depts = (dispatchable(session, "district_org", district) if district else
             departments(session, CITY_ID) + [d for d in departments(session) if d.parent_id != CITY_ID])
    return render_template("joint/index.html", rows=rows, groups=candidate_groups(session, waiting),
                           joints=J.visible_joints(session, current_user.role, current_user.unit_id), selected=selected, form=form or {},
                           errors=errors or {}, levels=_levels(), level_names=LEVEL_NAMES, periods=PERIODS,
                           departments=depts, status_names=STATUS_NAMES, stages=STAGES,
                           unit_name=lambda u: unit_name(session, u)), status


@bp.get("/joint")
@login_required
def index():
    _require_role()
    return _page(db())


@bp.post("/joint")
@login_required
def open_matter():
    _require_role()
    session = db()
    form = {"whistle_ids": request.form.getlist("whistle_ids"), "title": (request.form.get("title") or "").strip(),
            "level": request.form.get("level") or "district",
            "lead_department_id": request.form.get("lead_department_id") or "",
            "cooperating_department_ids": request.form.getlist("cooperating_department_ids"),
            "completion_period": request.form.get("completion_period") or "P3M",
            "note": (request.form.get("note") or "").strip()}
    errors = {}
    allowed = {w.id for w, _t in waiting_whistles(session)}
    ids = [int(x) for x in form["whistle_ids"] if row_id(str(x)) is not None]
    if len(ids) < 2:
        errors["whistle_ids"] = _("请至少选择来自两个社区的两条事项。")
    elif any(i not in allowed for i in ids):
        errors["whistle_ids"] = _("所选事项中有不在您辖区街道审核阶段的事项，请刷新后重新选择。")
    if not form["title"]:
        errors["title"] = _("此项为必填项。")
    elif len(form["title"]) > 300:
        errors["title"] = _("最多 %(limit)s 个字符。", limit=300)
    if form["level"] not in _levels():
        errors["level"] = _("请从列表中选择一个有效的选项。")
    dept_ids = {d.id for d in departments(session)}
    if not form["lead_department_id"]:
        errors["lead_department_id"] = _("此项为必填项。")
    elif form["lead_department_id"] not in dept_ids:
        errors["lead_department_id"] = _("请从列表中选择一个有效的选项。")
    if any(d not in dept_ids for d in form["cooperating_department_ids"]):
        errors["cooperating_department_ids"] = _("请从列表中选择一个有效的选项。")
    if form["level"] in _levels():
        scope = _level_scope(session, form["level"], ids)
        for key in ("lead_department_id", "cooperating_department_ids"):
            if key not in errors and scope is not None and out_of_scope(session, form[key], level=form["level"],
                                                                        unit_id=scope):
                errors[key] = (_("区级共性问题只能由本区的区直部门和企事业单位办理（R5）；市直部门须上报市委组织部统筹（R6）。")
                               if form["level"] == "district" else _("市级共性问题只能由市直部门和企事业单位办理（R6）。"))
    if form["completion_period"] not in PERIODS:
        errors["completion_period"] = _("请从列表中选择一个有效的选项。")
    if len(form["note"]) > 2000:
        errors["note"] = _("最多 %(limit)s 个字符。", limit=2000)
    if errors:
        flash(_("表单有误，请按提示修改。"), "danger")
        return _page(session, form, errors, 422)
    try:
        with write() as tx:
            joint = J.open_joint_matter(tx, ids, actor=current_user.username, level=form["level"],
                                        title=form["title"], lead_department_id=form["lead_department_id"],
                                        cooperating_department_ids=form["cooperating_department_ids"],
                                        completion_period=form["completion_period"], note=form["note"] or None)
            joint_no = joint.joint_no
    except J.JointError as exc:
        session.rollback()
        flash(_("未能开立共性问题：%(why)s", why=str(exc)), "danger")
        return _page(session, form, {"whistle_ids": str(exc)}, 422)
    except EngineError as exc:
        session.rollback()
        flash(engine_error_message(exc), "danger")
        return _page(session, form, {}, 409)
    flash(_("已开立共性问题 %(no)s，并入 %(n)d 条事项。", no=joint_no, n=len(ids)), "success")
    return redirect(url_for("joint.show", key=joint_no))


def _level_scope(session, level: str, whistle_ids: list[int]) -> str | None:
    """The unit whose departments may handle a joint matter of `level`: the city, or the district
    of the chosen whistles (None when they are not of one district: open_joint_matter refuses)."""
    if level == "city":
        return CITY_ID
    if current_user.role == "district_org":
        return current_user.unit_id
    districts = set(session.scalars(select(Whistle.district_id).where(Whistle.id.in_(whistle_ids or [0]))))
    return districts.pop() if len(districts) == 1 else None


def _visible_joint(session, key) -> JointMatter:
    _require_role()
    joint = J.get_joint(session, key)
    if joint is None:
        abort(404)
    if current_user.role in ("city_org", "admin"):
        return joint
    if current_user.role == "district_org" and joint.district_id == current_user.unit_id:
        return joint
    mine = session.scalar(select(JointLink.id).join(Whistle, Whistle.id == JointLink.whistle_id)
                          .where(JointLink.joint_id == joint.id, _scope()).limit(1))
    if mine is None:
        abort(403)
    return joint


def _can_cancel(joint: JointMatter) -> bool:
    """Administrators, and the org department that coordinates the joint matter, while it is not closed."""
    if joint.status not in ("open", "dispatched"):
        return False
    return current_user.role == "admin" or (current_user.role in ("district_org", "city_org")
                                            and joint.org_unit_id == current_user.unit_id)


def _can_unlink(session, joint: JointMatter, whistle_id: int) -> bool:
    if joint.status != "open" or joint.task_order_no:
        return False
    if current_user.role in ("city_org", "admin"):
        return True
    return session.scalar(select(Whistle.id).where(Whistle.id == whistle_id, _scope())) is not None


@bp.get("/joint/<key>")
@login_required
def show(key):
    session = db()
    joint = _visible_joint(session, key)
    record = J.joint_record(session, joint.id)
    tasks = list(session.scalars(select(InboxTask).where(InboxTask.instance_id == joint.instance_id)
                                 .order_by(InboxTask.created_at))) if joint.instance_id else []
    unlinkable = {w["whistle_id"] for w in record["whistles"] if _can_unlink(session, joint, w["whistle_id"])}
    suggested = {}
    if joint.lead_department_id is None and joint.instance_id:
        from engine import runtime
        from engine.models import Instance
        instance = session.get(Instance, joint.instance_id)
        data = runtime.instance_data(session, instance) if instance is not None else {}
        suggested = {"lead": data.get("lead_department_id"), "coop": data.get("cooperating_department_ids") or [],
                     "period": data.get("completion_period")}
    return render_template("joint/show.html", joint=joint, record=record, tasks=tasks, unlinkable=unlinkable,
                           suggested=suggested, can_cancel=_can_cancel(joint),
                           status_names=STATUS_NAMES, level_names=LEVEL_NAMES, periods=PERIODS, stages=STAGES,
                           unit_name=lambda u: unit_name(session, u))


@bp.post("/joint/<key>/unlink")
@login_required
def unlink(key):
    session = db()
    joint = _visible_joint(session, key)
    joint_no = joint.joint_no
    try:
        whistle_id = int(request.form.get("whistle_id") or "")
    except ValueError:
        abort(400)
    reason = (request.form.get("reason") or "").strip()[:2000]
    if not _can_unlink(session, joint, whistle_id):
        flash(_("共性问题已派单或该事项不在您的辖区，不能移出。"), "danger")
        return redirect(url_for("joint.show", key=joint_no))
    if not reason:
        flash(_("请填写移出原因。"), "danger")
        return redirect(url_for("joint.show", key=joint_no))
    session.rollback()

    def act(tx):
        link = J.unlink(tx, joint_no, whistle_id, actor=current_user.username, reason=reason)
        number = tx.get(Whistle, link.whistle_id).whistle_no
        return _("已将 %(no)s 移出共性问题，事项退回街道重新审核。", no=number)
    return _joint_action(joint_no, act, _("未能移出：%(why)s"))


def _joint_action(joint_no: str, act, refused: str):
    """Run `act(tx)` in one transaction; flash its success message, or the refusal (`refused`
    with %(why)s) or the engine's error, and return to the joint matter's page."""
    try:
        with write() as tx:
            message = act(tx)
    except J.JointError as exc:
        flash(refused % {"why": str(exc)}, "danger")
    except EngineError as exc:
        flash(engine_error_message(exc), "danger")
    else:
        flash(message, "success")
    return redirect(url_for("joint.show", key=joint_no))


@bp.post("/joint/<key>/cancel")
@login_required
def cancel(key):
    """R14: the coordinating org department cancels a joint matter; its whistles go back to their streets."""
    session = db()
    joint = _visible_joint(session, key)
    joint_no = joint.joint_no
    if not _can_cancel(joint):
        abort(403)
    reason = (request.form.get("reason") or "").strip()[:2000]
    if not reason:
        flash(_("请填写撤销原因。"), "danger")
        return redirect(url_for("joint.show", key=joint_no))
    session.rollback()

    def act(tx):
        released = len(J.cancel(tx, joint_no, actor=current_user.username, reason=reason))
        return _("已撤销共性问题 %(no)s，%(n)d 条事项退回街道重新审核。", no=joint_no, n=released)
    return _joint_action(joint_no, act, _("未能撤销：%(why)s"))
