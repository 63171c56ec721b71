"""Administrators: instances (list, detail, actions), the per-element overview of a version,
the organisation directory and officer accounts."""
from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from engine import admin as eadmin
from engine import runtime, versions
from engine.clock import now
from engine.errors import Conflict, EngineError, FormInvalid, InstanceNotActive, NotFound, TaskNotReady
from engine.models import Deployment, Instance, ProcessVersion
from engine.parsing import NS, parse_xml
from governance.directory import (KIND_NAMES, DirectoryImportError, get_unit, import_directory_csv, unit_name,
                                  units)
from governance.models import UNIT_KINDS, Unit
from governance.officers import OfficerError, create_officer, get_officer, list_users, set_password
from governance.roles import OFFICER_ROLES

from .. import policy
from ..auth import roles_required
from ..db import db, write
from ..i18n import ROLE_NAMES, engine_error_message, field_error_message
from ..input_guard import id_arg

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@roles_required("admin")
def _admin_only():
    return None


# -- instances ------------------------------------------------------------------------------------

@bp.get("/instances")
def instances():
    session = db()
    error = None
    try:
        kw, clean = policy.instance_filters(session, request.args)
    except policy.BadFilter as exc:
        error = {exc.field: str(exc)}
        kw, clean = {"limit": 50}, {k: request.args.get(k, "") for k in request.args}
    page = eadmin.list_instances(session, **kw)
    whistles = policy.whistles_by_key(session, [r["business_key"] for r in page.rows])
    processes = versions.list_processes(session)
    next_args = {k: v for k, v in request.args.items() if k != "after"}
    return render_template("admin/instances.html", page=page, whistles=whistles, processes=processes,
                           args=clean, error=error, statuses=policy.STATUSES, status_names=policy.STATUS_NAMES,
                           next_args=next_args, communities=units(session, "community"),
                           departments=units(session, "department"), now=now(),
                           unit_name=lambda u: unit_name(session, u))


def _element_index(files: dict) -> tuple[dict, dict]:
    """({process id: file name}, {element id: [process ids]}) of the BPMN files of a deployment."""
    owner, elements = {}, {}
    for name, text in files.items():
        if name.lower().endswith(".dmn") or not isinstance(text, str):
            continue
        try:
            root = parse_xml(text.encode("utf-8")).getroot()
        except Exception:
            continue
        for proc in root.iterfind("bpmn:process", NS):
            pid = proc.get("id")
            owner.setdefault(pid, name)
            for node in proc.iter():
                if isinstance(node.tag, str) and node.get("id"):
                    elements.setdefault(node.get("id"), []).append(pid)
    return owner, elements


def instance_diagrams(session, instance: Instance, detail: dict) -> list[dict]:
    """The diagrams to draw: the instance's process first, then every called process where an
    element is active, waiting or failed: [{name, process_id, xml, elements: {state: [ids]}}]."""
    deployment = session.get(Deployment, instance.deployment_id)
    files = {**(deployment.dependencies or {}), **(deployment.files or {})}
    owner, index = _element_index(files)
    states = {k: set(v) for k, v in detail["elements"].items()}
    states["active"] |= {t["task"] for t in detail["active_tasks"]}
    states["waiting"] |= {t["task"] for t in detail["timers"]} | {t["task"] for t in detail["waiting_tasks"]}
    wanted = [instance.process_id]
    for ids in (states["active"], states["waiting"], states["failed"]):
        for eid in ids:
            pids = index.get(eid, [])
            if pids and instance.process_id not in pids:
                for pid in pids:
                    if pid not in wanted:
                        wanted.append(pid)
    out = []
    for pid in wanted:
        name = owner.get(pid)
        if not name:
            continue
        mine = {k: sorted(e for e in v if pid in index.get(e, [])) for k, v in states.items()}
        out.append({"name": name, "process_id": pid, "xml": files[name], "elements": mine})
    return out


@bp.get("/instances/<int:instance_id>")
def instance(instance_id):
    session = db()
    try:
        detail = eadmin.instance_detail(session, instance_id)
    except NotFound:
        abort(404)
    row = session.get(Instance, instance_id)
    latest = runtime.latest_version(session, row.process_id)
    migration = None
    if latest.id != row.process_version_id and row.status in eadmin.OPEN:
        try:
            migration = {"target": latest, "problems": eadmin.check_migration(session, instance_id, latest.id)}
        except Exception as exc:   # a state that cannot be compared still shows its page
            migration = {"target": latest, "problems": [{"task": "", "state": "",
                                                         "message": f"{exc.__class__.__name__}: {exc}"}]}
    whistle = policy.whistles_by_key(session, [row.business_key]).get(row.business_key)
    return render_template("admin/instance.html", d=detail, instance=row, latest=latest, migration=migration,
                           whistle=whistle, diagrams=instance_diagrams(session, row, detail),
                           data_json=json.dumps(policy.jsonable(detail["data"]), ensure_ascii=False, indent=2,
                                                sort_keys=True),
                           status_names=policy.STATUS_NAMES, action_names=policy.ACTION_NAMES, now=now(),
                           unit_name=lambda u: unit_name(session, u))


@bp.post("/instances/<int:instance_id>/<action>")
def instance_action(instance_id, action):
    if action not in policy.ACTIONS:
        abort(404)
    body = request.form.to_dict()
    back = redirect(url_for(".instance", instance_id=instance_id))
    name = policy.ACTION_NAMES.get(action, action)
    try:
        with write() as tx:
            out = policy.run_action(tx, instance_id, action, body, current_user.username)
    except policy.ActionInvalid as exc:
        flash(_("未执行“%(a)s”：%(why)s", a=name, why="；".join(exc.errors.values())), "danger")
        return back
    except eadmin.MigrationRefused as exc:
        flash(_("不能迁移：%(why)s", why="；".join(p.message for p in exc.problems)), "danger")
        return back
    except NotFound:
        abort(404)
    except FormInvalid as exc:   # a corrected submission that the form still refuses: nothing changed
        flash(_("未执行“%(a)s”：%(why)s", a=name,
                why="；".join(f"{e.field}：{field_error_message(e)}" for e in exc.errors)), "danger")
        return back
    except (TaskNotReady, InstanceNotActive, Conflict) as exc:
        flash(_("未执行“%(a)s”：%(why)s", a=name, why=f"{engine_error_message(exc)}（{exc.message}）"), "danger")
        return back
    except EngineError as exc:
        flash(_("未执行“%(a)s”：%(why)s", a=name, why=exc.message), "danger")
        return back
    status = policy.STATUS_NAMES.get(out["status"], out["status"])
    if out["status"] == "incident" and action in ("retry", "edit_submission"):
        flash(_("已重试，但仍然出错：%(msg)s", msg=(out.get("incident") or {}).get("message", "")), "warning")
    else:
        flash(_("已执行“%(a)s”。实例状态：%(s)s。", a=name, s=status), "success")
    return back


@bp.post("/versions/<int:version_id>/migrate")
def bulk_migrate(version_id):
    reason = (request.form.get("reason") or "").strip()
    target = request.form.get("target_version_id", type=int)
    back = redirect(url_for(".overview", version_id=version_id))
    if not reason or not target:
        flash(_("请填写批量迁移的原因并选择目标版本。"), "danger")
        return back
    try:
        with write() as tx:
            out = eadmin.bulk_migrate(tx, version_id, target, reason=reason, actor=current_user.username)
    except EngineError as exc:
        flash(_("批量迁移失败：%(why)s", why=exc.message), "danger")
        return back
    flash(_("批量迁移：%(ok)d 个实例已迁移，%(no)d 个不能迁移。", ok=len(out["migrated"]), no=len(out["refused"])),
          "success" if not out["refused"] else "warning")
    for refused in out["refused"][:10]:
        flash(_("实例 %(id)d 不能迁移：%(why)s", id=refused["instance_id"], why=refused["reason"]), "warning")
    return back


# -- overview -------------------------------------------------------------------------------------

@bp.get("/overview")
def overview():
    session = db()
    processes = versions.list_processes(session)
    version_id = id_arg("version_id")
    if version_id is None and processes:
        main = next((p for p in processes if p["process_id"] == "whistle"), processes[0])
        version_id = main["latest_version_id"]
    if version_id is None:
        return render_template("admin/overview.html", processes=processes, version=None, data=None, xml=None)
    version = session.get(ProcessVersion, version_id)
    if version is None:
        abort(404)
    data = eadmin.process_overview(session, version_id)
    files = versions.version_files(session, version_id)
    siblings = [v for p in processes if p["process_id"] == version.process_id for v in p["versions"]]
    return render_template("admin/overview.html", processes=processes, version=version, data=data,
                           xml=files["files"][files["file"]], siblings=siblings,
                           status_names=policy.STATUS_NAMES)


# -- directory ------------------------------------------------------------------------------------

def _csv_row(**values) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "kind", "name", "parent_id", "categories", "active"])
    writer.writeheader()
    writer.writerow(values)
    return out.getvalue()


@bp.get("/directory")
def directory():
    session = db()
    kind = request.args.get("kind") or None
    if kind not in UNIT_KINDS:
        kind = None
    q = (request.args.get("q") or "").strip()
    stmt = select(Unit).order_by(Unit.kind, Unit.id)
    if kind:
        stmt = stmt.where(Unit.kind == kind)
    if q:
        stmt = stmt.where((Unit.name.contains(q)) | (Unit.id.contains(q)))
    rows = session.scalars(stmt.limit(500)).all()
    return render_template("admin/directory.html", rows=rows, kind=kind, q=q, kinds=UNIT_KINDS,
                           kind_names=KIND_NAMES, parents=units(session, active_only=True))


def _import(text: str, success: str):
    try:
        with write() as tx:
            import_directory_csv(tx, io.StringIO(text))
    except DirectoryImportError as exc:
        for error in exc.errors[:20]:
            flash(str(error), "danger")
        return False
    flash(success, "success")
    return True


@bp.post("/directory")
def directory_create():
    form = request.form
    values = {k: (form.get(k) or "").strip() for k in ("id", "kind", "name", "parent_id", "categories")}
    values["active"] = "1"
    _import(_csv_row(**values), _("已新建单位 %(id)s。", id=values["id"]))
    return redirect(url_for(".directory", kind=values["kind"] or None))


@bp.post("/directory/<unit_id>/active")
def directory_active(unit_id):
    session = db()
    unit = get_unit(session, unit_id)
    if unit is None:
        abort(404)
    active = request.form.get("active") == "1"
    row = dict(id=unit.id, kind=unit.kind, name=unit.name, parent_id=unit.parent_id or "",
               categories="|".join(unit.categories or []), active="1" if active else "0")
    _import(_csv_row(**row), _("已启用单位 %(n)s。", n=unit.name) if active else _("已停用单位 %(n)s。", n=unit.name))
    return redirect(url_for(".directory", kind=unit.kind))


@bp.post("/directory/import")
def directory_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("请选择 CSV 文件。"), "danger")
        return redirect(url_for(".directory"))
    raw = upload.read(5 * 1024 * 1024 + 1)
    if len(raw) > 5 * 1024 * 1024:
        flash(_("文件过大（最多 5 MB）。"), "danger")
        return redirect(url_for(".directory"))
    try:
        with write() as tx:
            result = import_directory_csv(tx, io.BytesIO(raw))
    except DirectoryImportError as exc:
        for error in exc.errors[:20]:
            flash(str(error), "danger")
        if len(exc.errors) > 20:
            flash(_("另有 %(n)d 处错误未列出。", n=len(exc.errors) - 20), "danger")
        flash(_("文件未导入，请修改后重试。"), "danger")
        return redirect(url_for(".directory"))
    flash(_("导入完成：新建 %(c)d 个单位，更新 %(u)d 个单位。", c=len(result.created), u=len(result.updated)), "success")
    return redirect(url_for(".directory"))


# -- officers -------------------------------------------------------------------------------------

@bp.get("/officers")
def officers():
    session = db()
    role = request.args.get("role") or None
    if role not in OFFICER_ROLES:
        role = None
    return render_template("admin/officers.html", users=list_users(session, role=role), role=role,
                           roles=OFFICER_ROLES, role_names=ROLE_NAMES, all_units=units(session))


@bp.post("/officers")
def officer_create():
    form = request.form
    try:
        with write() as tx:
            officer = create_officer(tx, username=(form.get("username") or "").strip(),
                                     password=form.get("password") or "",
                                     display_name=(form.get("display_name") or "").strip(),
                                     role=form.get("role") or "", unit_id=form.get("unit_id") or None,
                                     phone=(form.get("phone") or "").strip() or None)
            name = officer.username
    except (OfficerError, ValueError) as exc:
        flash(_("未新建用户：%(why)s", why=str(exc)), "danger")
        return redirect(url_for(".officers"))
    flash(_("已新建用户 %(u)s。", u=name), "success")
    return redirect(url_for(".officers"))


def _officer(tx, username):
    officer = get_officer(tx, username)
    if officer is None:
        abort(404)
    return officer


@bp.post("/officers/<username>/active")
def officer_active(username):
    active = request.form.get("active") == "1"
    if username == current_user.username and not active:
        flash(_("不能停用自己的账号。"), "danger")
        return redirect(url_for(".officers"))
    with write() as tx:
        _officer(tx, username).active = active
    flash(_("已启用用户 %(u)s。", u=username) if active else _("已停用用户 %(u)s，该用户不能再登录。", u=username),
          "success")
    return redirect(url_for(".officers"))


@bp.post("/officers/<username>/password")
def officer_password(username):
    password = request.form.get("password") or ""
    try:
        with write() as tx:
            set_password(tx, _officer(tx, username), password)
    except OfficerError as exc:
        flash(_("未重置密码：%(why)s", why=str(exc)), "danger")
        return redirect(url_for(".officers"))
    flash(_("已重置用户 %(u)s 的密码。", u=username), "success")
    return redirect(url_for(".officers"))
