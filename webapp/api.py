"""JSON API /api/v1 (described by /api/v1/openapi.json).

A client logs in with POST /session and sends `Authorization: Bearer TOKEN` (a signed,
expiring token; no cookie, so no CSRF token). Every error is {"error": {"code", "message"}}
with the message in the request's language; a 422 also lists {"errors": [{field, message}]}.
"""
from __future__ import annotations

import json
import re

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.errors import EngineError, FormInvalid, IncidentRaised, TaskNotReady
from governance import forms, handoffs, privacy, workspace
from governance.directory import CATEGORIES
from governance.register import RegisterError, report_whistle, whistle_record

from .auth import User, bearer_user, issue_token
from .db import db, write
from .extensions import csrf, limiter
from .formview import display_schema, error_map
from .i18n import ROLE_NAMES, engine_error_message, field_error_message
from .openapi import document

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

PUBLIC = {"api.session", "api.openapi"}
_TASK_ID = re.compile(r"^[0-9a-fA-F-]{8,64}$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, errors: list | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


def error_response(status: int, code: str, message: str, errors: list | None = None):
    body = {"error": {"code": code, "message": message}}
    if errors is not None:
        body["errors"] = errors
    return jsonify(body), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.errors)


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "invalid", 429: "too_many_requests", 500: "server_error"}


def http_error_json(exc: HTTPException):
    """Any HTTP error under /api/ as the API's JSON error."""
    status = exc.code or 500
    messages = {
        400: _("请求格式不正确。"), 401: _("请先登录（提供有效的访问令牌）。"), 403: _("无权访问。"),
        404: _("找不到该资源。"), 405: _("不支持该请求方法。"), 413: _("请求内容过大。"),
        415: _("请使用 application/json 格式。"), 429: _("请求过于频繁，请稍后再试。"),
        500: _("服务器内部错误。"),
    }
    return error_response(status, HTTP_CODES.get(status, "error"), messages.get(status, exc.description or ""))


@bp.before_request
def _authenticate():
    request.max_content_length = current_app.config["API_MAX_BODY"]
    if request.content_length is not None and request.content_length > current_app.config["API_MAX_BODY"]:
        raise RequestEntityTooLarge()
    if request.endpoint in PUBLIC:
        return None
    authenticate()
    return None


def authenticate() -> None:
    """Every /api/v1 blueprint's guard: the bearer token's officer in g.api_user, else 401."""
    user = bearer_user(request.headers)
    if user is None:
        raise ApiError(401, "unauthorized", _("请先登录（提供有效的访问令牌）。"))
    g.api_user = user


def _user() -> User:
    return g.api_user


def _json_body() -> dict:
    raw = request.get_data(cache=True)
    if not raw:
        raise ApiError(400, "bad_request", _("请求体不能为空，请发送 JSON 对象。"))
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "bad_json", _("请求体不是有效的 JSON。")) from None
    if not isinstance(body, dict):
        raise ApiError(422, "invalid", _("请求体必须是 JSON 对象。"), [{"field": "", "message": _("请求体必须是 JSON 对象。")}])
    return body


def _engine_error(exc: EngineError):
    if isinstance(exc, TaskNotReady):
        return ApiError(409, exc.code, engine_error_message(exc))
    if isinstance(exc, workspace.Forbidden):
        return ApiError(403, exc.code, engine_error_message(exc))
    if exc.code == "not_found":
        return ApiError(404, exc.code, engine_error_message(exc))
    if exc.code in ("conflict", "instance_not_active"):
        return ApiError(409, exc.code, engine_error_message(exc))
    if isinstance(exc, FormInvalid):
        return ApiError(422, exc.code, engine_error_message(exc),
                        [{"field": e.field, "message": field_error_message(e)} for e in exc.errors])
    return ApiError(400, exc.code, engine_error_message(exc))


# -- endpoints -----------------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    return jsonify(document(request.host_url.rstrip("/")))


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.post("/session")
@limiter.limit(_login_limit)
def session():
    from .auth import LoginRefused, attempt_login
    body = _json_body()
    username, password = body.get("username"), body.get("password")
    problems = []
    for name, value in (("username", username), ("password", password)):
        if not isinstance(value, str) or not value:
            problems.append({"field": name, "message": _("此项为必填项。")})
    if problems:
        raise ApiError(422, "invalid", _("表单有误，请按提示修改。"), problems)
    try:  # failed logins are counted per account and per address, as on the login page
        user = attempt_login(username[:200], password[:1000])
    except LoginRefused as exc:
        raise ApiError(429, "too_many_attempts", exc.message()) from None
    if user is None:
        raise ApiError(401, "bad_credentials", _("用户名或密码不正确。"))
    token = issue_token(user)
    return jsonify(token=token, token_type="Bearer", expires_in=current_app.config["API_TOKEN_MAX_AGE"])


@bp.get("/me")
def me():
    user = _user()
    return jsonify(username=user.username, display_name=user.display_name, role=user.role,
                   role_name=str(ROLE_NAMES.get(user.role, user.role)), unit_id=user.unit_id,
                   unit_name=user.unit_name)


WHISTLE_FIELDS = {"title": 300, "description": 5000, "category": 50, "community_id": 50, "location": 300,
                  "reporter": 200}


@bp.post("/whistles")
def create_whistle():
    user = _user()
    body = _json_body()
    communities = workspace.intake_communities(db(), user)
    if not communities:
        raise ApiError(403, "forbidden", _("您的角色不能上报问题。"))
    problems = []
    values = {}
    for name, limit in WHISTLE_FIELDS.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append({"field": name, "message": _("请填写%(what)s。", what=_("文字"))})
        elif len(value) > limit:
            problems.append({"field": name, "message": _("最多 %(limit)s 个字符。", limit=limit)})
        else:
            values[name] = value.strip()
    unknown = sorted(set(body) - set(WHISTLE_FIELDS))
    problems += [{"field": k, "message": _("表单中没有这一项。")} for k in unknown]
    if not values.get("title") and not any(p["field"] == "title" for p in problems):
        problems.append({"field": "title", "message": _("此项为必填项。")})
    if values.get("category") and values["category"] not in CATEGORIES:
        problems.append({"field": "category", "message": _("请从列表中选择一个有效的选项。")})
    allowed = {c.id for c in communities}
    community = values.get("community_id") or (communities[0].id if len(communities) == 1 else None)
    if community is None:
        problems.append({"field": "community_id", "message": _("此项为必填项。")})
    elif community not in allowed:
        problems.append({"field": "community_id", "message": _("请从列表中选择一个有效的选项。")})
    if problems:
        raise ApiError(422, "invalid", _("表单有误，请按提示修改。"), problems)
    try:
        with write() as tx:
            whistle = report_whistle(tx, title=values["title"], description=values.get("description") or None,
                                     category=values.get("category") or None, community_id=community,
                                     location=values.get("location") or None,
                                     reporter=values.get("reporter") or None, source="api", actor=user.username)
            out = {"id": whistle.id, "whistle_no": whistle.whistle_no, "instance_id": whistle.instance_id}
    except RegisterError as exc:
        raise ApiError(422, "invalid", str(exc), [{"field": "", "message": str(exc)}]) from None
    except EngineError as exc:
        raise _engine_error(exc) from None
    response = jsonify(out)
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_whistle", key=out["id"])
    return response


@bp.get("/whistles/<key>")
def get_whistle(key):
    session = db()
    try:
        whistle = workspace.visible_whistle(session, _user(), key)
    except EngineError as exc:
        raise _engine_error(exc) from None
    record = whistle_record(session, whistle.id)
    record["next_tasks"] = workspace.next_tasks(session, whistle.instance_id) if whistle.instance_id else []
    record["departments"] = workspace.involved_departments(session, whistle)
    # PIPL: the reporter for the handling community and street and administrators (audited), as on the page
    if whistle.reporter and privacy.may_see_reporter(_user(), whistle):
        with write() as tx:
            privacy.log_reporter_read(tx, _user(), whistle, via="api")
    return jsonify(privacy.record_for(record, _user(), whistle))


@bp.get("/tasks")
def list_tasks():
    args = request.args
    try:
        page = int(args.get("page", 1))
        per_page = int(args.get("per_page", 50))
    except ValueError:
        raise ApiError(400, "bad_request", _("页码必须是整数。")) from None
    result = workspace.inbox(db(), _user(), task=args.get("task") or None, category=args.get("category") or None,
                             overdue=args.get("overdue") in ("1", "true"),
                             order="due" if args.get("order") == "due" else "newest", page=page, per_page=per_page)
    return jsonify(items=[i.as_dict() for i in result.items], total=result.total, page=result.page,
                   pages=result.pages)


def _task(task_id: str, *, for_update: bool = False):
    if not _TASK_ID.match(task_id or ""):
        raise ApiError(404, "not_found", _("找不到该任务。"))
    session = db()
    try:
        return workspace.task_for(session, _user(), task_id)
    except TaskNotReady as exc:
        if for_update:
            raise ApiError(409, exc.code, engine_error_message(exc)) from None
        raise ApiError(404, "not_found", _("找不到该任务，或它已办理完毕。")) from None
    except EngineError as exc:
        raise _engine_error(exc) from None


@bp.get("/tasks/<task_id>")
def get_task(task_id):
    task, _whistle = _task(task_id)
    session = db()
    schema = workspace.task_form(session, task)
    body = workspace.task_item(session, task).as_dict()
    body.update(form=display_schema(schema), data=workspace.task_values(session, task, schema),
                context=workspace.task_context(session, task))
    return jsonify(body)


@bp.post("/tasks/<task_id>")
def complete_task(task_id):
    body = _json_body()
    task, whistle = _task(task_id, for_update=True)
    data = body.get("data")
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", _("“data”必须是 JSON 对象。"), [{"field": "data", "message": _("请填写%(what)s。", what=_("对象"))}])
    schema = workspace.task_form(db(), task)
    problems = forms.problems(schema, data, forms.task_rule_context(db(), task))
    if problems:
        errors = [{"field": f, "message": m} for f, m in error_map(problems).items()]
        raise ApiError(422, "form_invalid", _("表单有误，请按提示修改。"), errors)
    user = _user()
    try:
        with write() as tx:
            instance = workspace.complete_task(tx, user, task_id, data)
            status = instance.status
            next_tasks = workspace.next_tasks(tx, instance.id)
            handed_to = handoffs.whereabouts(tx, instance.id)   # where it went, who holds it now
    except EngineError as exc:
        raise _engine_error(exc) from None
    except ValueError as exc:   # a governance hook refused the values; nothing was stored
        raise ApiError(422, "invalid", str(exc), [{"field": "", "message": str(exc)}]) from None
    body = dict(task_id=task_id, whistle_id=whistle.id if whistle else None, instance_id=task.instance_id,
                status=status, next_tasks=next_tasks, handed_to=handed_to)
    if status == "incident":  # the submission is kept; the procedure continues once an admin retries
        return jsonify(**body, message=engine_error_message(IncidentRaised("incident"))), 202
    return jsonify(body)
