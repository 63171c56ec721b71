"""JSON API for policy staff (processes: list, check, deploy, versions) and administrators
(instances: list, detail, actions), under /api/v1 with the conventions of `api`: bearer token,
errors as {"error": {"code", "message"}}, a 422 listing what is wrong. A refused deployment's
422 lists {file, element, line, message} per problem.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from engine import admin, versions
from engine.errors import Conflict, DeployRefused, EngineError, InstanceNotActive, NotFound, TaskNotReady

from . import policy
from .api import ApiError, _json_body, authenticate, error_response
from .db import db, write
from .extensions import csrf
from .i18n import engine_error_message

bp = Blueprint("api_admin", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

STAFF = ("policy_staff", "admin")
ADMIN = ("admin",)
UPLOAD_MAX = 8 * 1024 * 1024


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.errors)


@bp.before_request
def _authenticate():
    limit = UPLOAD_MAX if request.method == "POST" and request.endpoint == "api_admin.deploy_processes" \
        else current_app.config["API_MAX_BODY"]
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    authenticate()
    return None


def _require(roles) -> str:
    user = g.api_user
    if user.role not in roles:
        raise ApiError(403, "forbidden", _("无权访问。"))
    return user.username


def _engine_error(exc: EngineError) -> ApiError:
    if isinstance(exc, admin.ReasonRequired):
        return ApiError(422, exc.code, _("请填写操作原因。"), [{"field": "reason", "message": _("此项为必填项。")}])
    if isinstance(exc, admin.MigrationRefused):
        return ApiError(409, exc.code, _("不能迁移：%(why)s", why="; ".join(p.message for p in exc.problems)),
                        [{"field": p.task, "message": p.message, "state": p.state} for p in exc.problems])
    if isinstance(exc, NotFound):
        return ApiError(404, exc.code, engine_error_message(exc))
    if isinstance(exc, (TaskNotReady, InstanceNotActive, Conflict)):
        return ApiError(409, exc.code, engine_error_message(exc) + " " + exc.message)
    return ApiError(422, exc.code, exc.message, [{"field": "", "message": exc.message}])


# -- processes (policy staff) --------------------------------------------------------------------

def _uploaded_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if request.files:
        for storage in request.files.getlist("files") + request.files.getlist("file"):
            name = (storage.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
            files[name] = storage.read()
    elif request.is_json:
        body = _json_body()
        given = body.get("files")
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise ApiError(422, "invalid", _("“files”必须是 {文件名: XML 文本} 对象。"),
                           [{"field": "files", "message": _("请上传 BPMN 文件。")}])
        files = {str(k): v.encode("utf-8") for k, v in given.items()}
    if not files:
        raise ApiError(422, "invalid", _("请上传 BPMN 文件（multipart 字段 files）。"),
                       [{"field": "files", "message": _("此项为必填项。")}])
    return files


def _refused(problems) -> ApiError:
    errors = policy.problem_dicts(problems)
    return ApiError(422, "deploy_refused", _("流程图未通过检查，共 %(n)d 个问题。", n=len(errors)), errors)


@bp.get("/processes")
def list_processes():
    _require(STAFF)
    return jsonify(items=policy.jsonable(versions.list_processes(db())))


@bp.post("/processes")
def deploy_processes():
    actor = _require(STAFF)
    files = _uploaded_files()
    note = request.form.get("note") if request.form else None
    try:
        with write() as tx:
            result = policy.deploy_files(tx, files, actor=actor, note=note)
            out = policy.result_dict(result)
    except DeployRefused as exc:
        raise _refused(exc.problems) from None
    response = jsonify(out)
    response.status_code = 201 if out["created"] else 200
    if out.get("version_id"):
        response.headers["Location"] = url_for("api_admin.get_version", version_id=out["version_id"])
    return response


@bp.post("/processes/check")
def check_processes():
    _require(STAFF)
    problems = policy.check_files(db(), _uploaded_files())
    return jsonify(ok=not problems, errors=problems)


@bp.get("/versions/<int:version_id>")
def get_version(version_id):
    _require(STAFF)
    try:
        files = versions.version_files(db(), version_id)
    except EngineError as exc:
        raise _engine_error(exc) from None
    return jsonify(id=version_id, file=files["file"], xml=files["files"][files["file"]],
                   files=sorted(files["files"]), dependencies=sorted(files["dependencies"]))


@bp.get("/versions/<int:a>/diff/<int:b>")
def diff_versions(a, b):
    _require(STAFF)
    try:
        return jsonify(versions.diff_versions(db(), a, b))
    except EngineError as exc:
        raise _engine_error(exc) from None


@bp.post("/versions/<int:version_id>/rollback")
def rollback(version_id):
    actor = _require(STAFF)
    body = _json_body()
    try:
        with write() as tx:
            from engine.models import ProcessVersion
            row = tx.get(ProcessVersion, version_id)
            out = policy.result_dict(versions.rollback(tx, version_id, reason=body.get("reason"), actor=actor),
                                     prefer=row.process_id if row else None)
    except DeployRefused as exc:
        raise _refused(exc.problems) from None
    except EngineError as exc:
        raise _engine_error(exc) from None
    return jsonify(out), 201 if out["created"] else 200


@bp.post("/versions/<int:version_id>/migrate")
def bulk_migrate(version_id):
    actor = _require(ADMIN)
    body = _json_body()
    target = body.get("target_version_id")
    if not isinstance(target, int):
        raise ApiError(422, "invalid", _("请指定目标版本。"), [{"field": "target_version_id", "message": _("此项为必填项。")}])
    try:
        with write() as tx:
            out = admin.bulk_migrate(tx, version_id, target, reason=body.get("reason"), actor=actor)
    except EngineError as exc:
        raise _engine_error(exc) from None
    return jsonify(out)


@bp.get("/versions/<int:version_id>/overview")
def overview(version_id):
    _require(ADMIN)
    try:
        return jsonify(admin.process_overview(db(), version_id))
    except EngineError as exc:
        raise _engine_error(exc) from None


# -- instances (administrators) ------------------------------------------------------------------

@bp.get("/instances")
def list_instances():
    _require(ADMIN)
    session = db()
    try:
        kw, _clean = policy.instance_filters(session, request.args)
    except policy.BadFilter as exc:
        raise ApiError(422, "invalid", str(exc), [{"field": exc.field, "message": str(exc)}]) from None
    page = admin.list_instances(session, **kw)
    whistles = policy.whistles_by_key(session, [r["business_key"] for r in page.rows])
    items = []
    for row in page.rows:
        w = whistles.get(row["business_key"])
        items.append({**policy.jsonable(row), "whistle": {"id": w.id, "whistle_no": w.whistle_no, "title": w.title,
                                                          "community_id": w.community_id,
                                                          "lead_department_id": w.lead_department_id}
                      if w else None})
    return jsonify(items=items, total=page.total, next_after=page.next_after_id, limit=page.limit)


@bp.get("/instances/<int:instance_id>")
def get_instance(instance_id):
    _require(ADMIN)
    try:
        detail = admin.instance_detail(db(), instance_id)
    except EngineError as exc:
        raise _engine_error(exc) from None
    return jsonify(policy.jsonable(detail))


@bp.post("/instances/<int:instance_id>/<action>")
def instance_action(instance_id, action):
    actor = _require(ADMIN)
    if action not in policy.ACTIONS:
        raise ApiError(404, "not_found", _("没有这个操作。"))
    body = _json_body()
    try:
        with write() as tx:
            out = policy.run_action(tx, instance_id, action, body, actor)
    except policy.ActionInvalid as exc:
        raise ApiError(422, "invalid", _("表单有误，请按提示修改。"),
                       [{"field": k, "message": v} for k, v in exc.errors.items()]) from None
    except EngineError as exc:
        raise _engine_error(exc) from None
    return jsonify(out)
