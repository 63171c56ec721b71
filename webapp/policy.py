"""What the policy-staff and administrator pages and their API share: where processes/ and forms/
live, forms saved in the form editor (versions in the database, never files), the choices a
diagram may use, checking and deploying uploaded diagrams (never a 500: every failure is a list of
problems), reading the instance filters of a request, and the whistle facts that go with an
instance row.

The source tree (processes/, forms/) is read, never written: the form editor stores each save as
a `FormVersion`, which stands in for the file at every deployment made through the web or the
API; the modeler and the decision table deploy into the database (new process versions) and open
the newest deployed content of a file."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

import jsonschema
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, or_, select

from engine import registry
from engine.deploy import check, deploy, read_folder
from engine.errors import DeployProblem, DeployRefused
from engine.models import FormVersion

from .system import FORMS_DIR, PROCESSES_DIR

PROCESS_FILE = re.compile(r"^[A-Za-z0-9_.\-]{1,100}\.(bpmn|dmn|xml)$")
FORM_FILE = re.compile(r"^[A-Za-z0-9_\-]{1,80}\.json$")
MAX_DIAGRAM_BYTES = 2 * 1024 * 1024
STATUSES = ("running", "waiting", "incident", "suspended", "completed", "cancelled")
STATUS_NAMES = {"running": _l("运行中"), "waiting": _l("等待中"), "incident": _l("故障"), "suspended": _l("已暂停"),
                "completed": _l("已完成"), "cancelled": _l("已取消")}


def forms_dir() -> Path:
    return Path(current_app.config.get("FORMS_DIR") or FORMS_DIR)


def processes_dir() -> Path:
    return Path(current_app.config.get("PROCESSES_DIR") or PROCESSES_DIR)


# -- forms stored in the database -----------------------------------------------------------------

def stored_form(session, name: str) -> FormVersion | None:
    """The newest FormVersion saved under `name`, or None."""
    return session.scalars(select(FormVersion).where(FormVersion.name == name)
                           .order_by(FormVersion.version.desc()).limit(1)).first()


def _newest_stored(session) -> dict[str, FormVersion]:
    newest: dict[str, FormVersion] = {}
    for row in session.scalars(select(FormVersion).order_by(FormVersion.name, FormVersion.version)):
        newest[row.name] = row
    return newest


def stored_forms(session) -> dict[str, dict]:
    """{name: schema} of the newest saved version of every form: these stand in for forms/."""
    return {name: row.schema for name, row in _newest_stored(session).items()}


def save_form(session, name: str, schema: dict, *, actor: str) -> FormVersion:
    """Store `schema` as the next version of form `name` (in the caller's transaction)."""
    from engine.clock import now
    latest = stored_form(session, name)
    row = FormVersion(name=name, version=(latest.version if latest else 0) + 1, schema=schema,
                      saved_by=actor, saved_at=now())
    session.add(row)
    session.flush()
    return row


def current_form_text(session, name: str) -> str | None:
    """The form as the editor shows it: the newest saved version, else the file in forms/."""
    row = stored_form(session, name)
    if row is not None:
        return json.dumps(row.schema, ensure_ascii=False, indent=2)
    path = forms_dir() / name
    return path.read_text(encoding="utf-8") if FORM_FILE.match(name or "") and path.is_file() else None


def current_form(session, name: str) -> dict | None:
    text = current_form_text(session, name)
    try:
        schema = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return schema if isinstance(schema, dict) else None


def form_files(session=None) -> list[dict]:
    """[{name, title, title_en, valid, version}] of the forms: those of forms/ and those saved in
    the database (`version`: the newest saved version, None for a form only in forms/)."""
    from .db import db
    stored = _newest_stored(session if session is not None else db())
    folder = forms_dir()
    names = {p.name for p in folder.glob("*.json")} if folder.is_dir() else set()
    out = []
    for name in sorted(names | set(stored)):
        title, title_en, valid = None, None, True
        try:
            schema = stored[name].schema if name in stored else json.loads((folder / name).read_text(encoding="utf-8"))
            if isinstance(schema, dict):
                title, title_en = schema.get("title"), schema.get("x-title-en")
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except (ValueError, jsonschema.SchemaError, AttributeError):
            valid = False
        out.append({"name": name, "title": title, "title_en": title_en, "valid": valid,
                    "version": stored[name].version if name in stored else None})
    return out


# -- diagrams as deployed --------------------------------------------------------------------------

def newest_file(session, name: str) -> str | None:
    """The newest deployed content of a diagram file `name` (e.g. whistle.bpmn), or None."""
    from engine.models import Deployment
    for files in session.scalars(select(Deployment.files).order_by(Deployment.id.desc())):
        if isinstance(files, dict) and name in files:
            return files[name]
    return None


def newest_files(session, names) -> dict[str, bytes]:
    """{name: newest deployed content} of each of `names` that was ever deployed."""
    out = {}
    for name in names:
        text = newest_file(session, name)
        if text is not None:
            out[name] = text.encode("utf-8")
    return out


def _latest_versions(session):
    from engine.models import ProcessVersion
    newest = {}
    for row in session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version)):
        newest[row.process_id] = row
    return list(newest.values())


def _deployments_using(session, name: str):
    """The newest deployments of the processes whose user tasks use form `name`, once each."""
    seen, out = set(), []
    for version in _latest_versions(session):
        deployment = version.deployment
        tasks = (deployment.task_meta or {}).get(version.process_id) or {}
        if any(isinstance(t, dict) and t.get("form") == name for t in tasks.values()) and deployment.id not in seen:
            seen.add(deployment.id)
            out.append(deployment)
    return out


def routing_collisions(session, name: str, schema: dict, only_new: bool = True) -> list[dict]:
    """The editable fields of form `name` (as `schema` would have it) that are named like a
    variable the diagrams using the form route on (engine.routing): [{field, process}]. With
    `only_new`, a field the form already had as it is now is left out: the editor refuses new ones
    and shows the old ones as a warning to those who drew the diagrams."""
    from engine.routing import editable_fields, process_keys, routing_variables
    before = current_form(session, name)
    mine = editable_fields(schema) - (editable_fields(before) if only_new else set())
    if not mine:
        return []
    stored = stored_forms(session)
    found: dict[str, str] = {}
    for deployment in _deployments_using(session, name):
        forms = {**(deployment.forms or {}), **stored}
        if before is not None:
            forms[name] = before
        else:
            forms.pop(name, None)
        for pid, keys in process_keys({**(deployment.dependencies or {}), **deployment.files}).items():
            if name in keys.forms:
                for key in sorted(mine & routing_variables(keys, forms)):
                    found.setdefault(key, pid)
    return [{"field": k, "process": p} for k, p in sorted(found.items())]


# -- choices -------------------------------------------------------------------------------------

def choices() -> dict:
    """Everything a diagram may name: forms, handlers and roles (with their default unit keys)."""
    from .i18n import ROLE_NAMES
    roles = registry.known_roles()
    return {
        "forms": form_files(),
        "handlers": [{"id": name, "doc": _doc(registry.get_handler(name)),
                      "parameters": _params(registry.get_handler(name))} for name in registry.handler_names()],
        "roles": [{"id": role, "name": str(ROLE_NAMES.get(role, role)), "unit_key": key}
                  for role, key in sorted(roles.items())],
        "unit_keys": sorted({k for k in roles.values() if k} | {"lead_department_id"}),
    }


def _doc(fn) -> str:
    doc = (getattr(fn, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def _params(fn) -> list[str]:
    import inspect
    try:
        return [p for p in inspect.signature(fn).parameters if p not in ("ctx",)
                and inspect.signature(fn).parameters[p].kind not in (inspect.Parameter.VAR_KEYWORD,
                                                                     inspect.Parameter.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        return []


# -- check and deploy ----------------------------------------------------------------------------

DEPLOY_MESSAGES = {
    "gateway_uncovered": _l("排他网关“%(gateway)s”没有默认流，表单 %(form)s（任务 %(task)s）中“%(key)s”的取值 "
                            "%(values)s 没有任何流向承接：请为这些取值添加流向，或设置默认流。"),
    "gateway_unanalysable": _l("排他网关“%(gateway)s”没有默认流，且其条件无法与表单的取值核对（只识别同一数据项的 "
                               "key == '值'、key in (…) 及其 or 组合）：请设置默认流。"),
    "gateway_open_key": _l("排他网关“%(gateway)s”没有默认流，且它之前没有表单为“%(key)s”规定固定的取值：请设置默认流。"),
    "form_open": _l("表单 %(form)s 不是封闭的：必须写明 \"additionalProperties\": false，只有表单声明的字段才能写入事项数据。"),
    "call_undeclared": _l("调用活动“%(call)s”调用的流程 %(called)s 没有声明传递的变量：请在 %(called)s 中用 "
                          "bpmn:ioSpecification 为需要传入的每个数据项声明 dataInput、为返回的每个数据项声明 "
                          "dataOutput（name 为数据项名）；只有声明的变量会被传递。"),
    "expression_limit": _l("表达式 %(expression)s 超出单次计算的限制（步数、时间、值的大小或数字位数）：它不读取任何数据，每次运行都会失败。"),
    "timer_not_text": _l("定时器表达式 %(expression)s 得不出 ISO 8601 日期、时长或周期：ISO 值要加引号（如 %(example)s），"
                         "或写一个数据项名。"),
    "timer_bad_date": _l("定时器 %(expression)s 不是有效的 ISO 8601 日期时间（例如 %(example)s）。"),
    "timer_bad_duration": _l("定时器 %(expression)s 不是有效的 ISO 8601 时长（例如 %(example)s），或超过 %(years)s 年。"),
    "timer_bad_cycle": _l("定时器 %(expression)s 不是有效的 ISO 8601 周期（例如 %(example)s）。"),
    "nesting_too_deep": _l("流程 %(process)s 的子流程和调用活动嵌套超过 %(limit)s 层：%(chain)s"),
}


def problem_message(problem: DeployProblem) -> str:
    """The problem in the reader's language when the engine gave it a code, else its message."""
    text = DEPLOY_MESSAGES.get(getattr(problem, "code", None) or "")
    if text is None:
        return problem.message
    params = dict(getattr(problem, "params", None) or {})
    if isinstance(params.get("values"), list):
        params["values"] = "、".join(repr(v) for v in params["values"])
    try:
        return str(text) % params
    except (KeyError, TypeError, ValueError):
        return problem.message


def problem_dicts(problems) -> list[dict]:
    return [{**p.as_dict(), "message": problem_message(p)} if isinstance(p, DeployProblem) else dict(p)
            for p in problems]


def form_change_problems(session, name: str, schema: dict) -> list[dict]:
    """What saving an edited form would break: the deploy problems that the deployed diagrams using
    it (else those of processes/) have with the new form and did not have with the saved one."""
    sets = [{n: t.encode("utf-8") for n, t in d.files.items()} for d in _deployments_using(session, name)]
    if not sets:
        sets = [read_folder(processes_dir())] if processes_dir().is_dir() else []
    stored = stored_forms(session)
    found = []
    for files in sets:
        if not files:
            continue
        try:
            before, *_ = check(session, files, forms_dir(), form_overrides=stored)
            after, *_ = check(session, files, forms_dir(), form_overrides={**stored, name: schema})
        except Exception as exc:   # never a 500 for a form
            current_app.logger.warning("form check failed: %r", exc)
            continue
        known = {str(p) for p in before.problems} | {str(p) for p in found}
        found += [p for p in after.problems if str(p) not in known]
    return problem_dicts(found)


def vet_names(files: dict[str, bytes]) -> list[dict]:
    problems = []
    for name, content in files.items():
        if not PROCESS_FILE.match(name or ""):
            problems.append({"file": name, "element": None, "line": None,
                             "message": "file name must be a plain name ending in .bpmn or .dmn "
                                        "(letters, digits, _ . -)"})
        elif len(content) > MAX_DIAGRAM_BYTES:
            problems.append({"file": name, "element": None, "line": None,
                             "message": f"file is larger than {MAX_DIAGRAM_BYTES // 1024} KiB"})
    return problems


def check_files(session, files: dict[str, bytes]) -> list[dict]:
    """Problems of a deployment set ([] when it would deploy). Changes nothing."""
    problems = vet_names(files)
    if problems:
        return problems
    try:
        checker, *_ = check(session, files, forms_dir(), form_overrides=stored_forms(session))
        return problem_dicts(checker.problems)
    except Exception as exc:   # an unforeseen failure of the checker is still the file's problem
        current_app.logger.warning("check failed: %r", exc)
        return [{"file": None, "element": None, "line": None,
                 "message": f"the diagram cannot be read: {exc.__class__.__name__}: {str(exc)[:300]}"}]


def deploy_files(session, files: dict[str, bytes], *, actor: str, note: str | None = None):
    """Deploy (in the caller's transaction); raises DeployRefused with the problems."""
    problems = vet_names(files)
    if problems:
        raise DeployRefused([DeployProblem(**p) for p in problems])
    try:
        return deploy(session, files, forms_dir=forms_dir(), actor=actor, note=note,
                      form_overrides=stored_forms(session))
    except DeployRefused:
        raise
    except Exception as exc:
        current_app.logger.warning("deploy failed: %r", exc)
        raise DeployRefused([DeployProblem(message=f"the diagram cannot be deployed: {exc.__class__.__name__}: "
                                                   f"{str(exc)[:300]}")]) from None


def result_dict(result, prefer: str | None = None) -> dict:
    """The deployment as JSON; `process_id`/`version` name the preferred (else the first) process."""
    versions = [{"process_id": v.process_id, "version": v.version, "id": v.id, "name": v.name}
                for v in result.versions]
    first = next((v for v in versions if v["process_id"] == prefer), versions[0] if versions else {})
    return {"process_id": first.get("process_id"), "version": first.get("version"),
            "version_id": first.get("id"), "versions": versions, "deployment_id": result.deployment.id,
            "created": result.created}


# -- instance filters ----------------------------------------------------------------------------

class BadFilter(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(field, "请使用 YYYY-MM-DD 格式的日期。") from None


def _int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadFilter(field, "必须是整数。") from None


def instance_filters(session, args) -> tuple[dict, dict]:
    """(keyword arguments of engine.admin.list_instances, the cleaned filter values) from query args:
    process, version, version_id, status, community, department, overdue, date_from, date_to, after, limit."""
    from governance.calendar import TZ
    from governance.models import Whistle

    clean = {k: (args.get(k) or "").strip() for k in ("process", "version", "version_id", "status", "community",
                                                       "department", "overdue", "date_from", "date_to", "after",
                                                       "limit", "q")}
    kw: dict = {}
    if clean["process"]:
        kw["process_id"] = clean["process"]
    if clean["version"]:
        kw["version"] = _int(clean["version"], "version")
    if clean["version_id"]:
        kw["version_id"] = _int(clean["version_id"], "version_id")
    if clean["status"]:
        statuses = [s for s in clean["status"].split(",") if s]
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise BadFilter("status", "状态无效：" + ", ".join(bad))
        kw["status"] = statuses
    if clean["overdue"] in ("1", "true", "yes"):
        kw["overdue"] = True
    elif clean["overdue"] in ("0", "false", "no"):
        kw["overdue"] = False
    elif clean["overdue"]:
        raise BadFilter("overdue", "只能是 1 或 0。")
    if clean["date_from"]:
        kw["started_from"] = datetime.combine(_day(clean["date_from"], "date_from"), time(0), TZ)
    if clean["date_to"]:
        kw["started_to"] = datetime.combine(_day(clean["date_to"], "date_to") + timedelta(days=1), time(0), TZ)
    if clean["after"]:
        kw["after_id"] = _int(clean["after"], "after")
    kw["limit"] = min(max(_int(clean["limit"], "limit"), 1), 200) if clean["limit"] else 50
    conditions = []
    if clean["community"]:
        unit = clean["community"]
        conditions.append(or_(Whistle.community_id == unit, Whistle.street_id == unit, Whistle.district_id == unit))
    if clean["department"]:
        dept = clean["department"].replace("%", "").replace("_", r"\_").replace('"', "")
        conditions.append(or_(Whistle.lead_department_id == clean["department"],
                              cast(Whistle.cooperating_department_ids, String).like(f'%"{dept}"%', escape="\\")))
    if clean["q"]:
        conditions.append(or_(Whistle.whistle_no == clean["q"], Whistle.title.contains(clean["q"])))
    if conditions:
        kw["instance_ids"] = [i for i in session.scalars(select(Whistle.instance_id).where(*conditions)
                                                          .where(Whistle.instance_id.is_not(None)).limit(10_000))]
    return kw, clean


def whistles_by_key(session, keys) -> dict:
    from governance.models import Whistle
    keys = [k for k in keys if k]
    if not keys:
        return {}
    return {w.whistle_no: w for w in session.scalars(select(Whistle).where(Whistle.whistle_no.in_(keys)))}


def jsonable(value):
    """datetimes as ISO text, recursively."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return None
    return value


# -- administrators' actions -------------------------------------------------------------------

ACTIONS = ("suspend", "resume", "cancel", "retry", "fire_timer", "reassign", "migrate", "edit_data",
           "edit_submission", "hand_back")
ACTION_NAMES = {"suspend": _l("暂停"), "resume": _l("恢复"), "cancel": _l("取消"), "retry": _l("重试"),
                "fire_timer": _l("立即触发定时器"), "reassign": _l("改派任务"), "migrate": _l("迁移到新版本"),
                "edit_data": _l("修改数据"), "bulk_migrate": _l("批量迁移"),
                "edit_submission": _l("修改提交内容并重试"), "hand_back": _l("退回经办人重新填写")}


class ActionInvalid(ValueError):
    """The request names a missing or wrong value ({field: message})."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def run_action(session, instance_id: int, action: str, body: dict, actor: str) -> dict:
    """Apply one administrator action in the caller's transaction; returns a small result dict.
    Raises ActionInvalid, or the engine's errors (ReasonRequired, MigrationRefused, Conflict, ...)."""
    from engine import admin, runtime
    from engine.models import Instance

    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ActionInvalid({"reason": "请填写操作原因。"})
    reason = reason.strip()[:2000]
    if action == "suspend":
        instance = admin.suspend(session, instance_id, reason=reason, actor=actor)
    elif action == "resume":
        instance = admin.resume(session, instance_id, reason=reason, actor=actor)
    elif action == "cancel":
        instance = admin.cancel(session, instance_id, reason=reason, actor=actor)
        from governance import joint   # R14: a cancelled joint matter releases its whistles to their streets
        cancelled = joint.joint_of_instance(session, instance_id)
        if cancelled is not None and cancelled.status in ("open", "dispatched"):
            joint.release(session, cancelled, actor=actor, reason=reason)
    elif action == "retry":
        instance = admin.retry(session, instance_id, reason=reason, actor=actor)
    elif action == "fire_timer":
        uuid = body.get("task_uuid")
        if not isinstance(uuid, str) or not uuid:
            raise ActionInvalid({"task_uuid": "请选择要触发的定时器。"})
        instance = admin.fire_timer_now(session, instance_id, uuid, reason=reason, actor=actor)
    elif action == "reassign":
        task_id, assignee = body.get("task_id"), body.get("assignee") or None
        if not isinstance(task_id, str) or not task_id:
            raise ActionInvalid({"task_id": "请选择要改派的任务。"})
        if assignee is not None and not isinstance(assignee, str):
            raise ActionInvalid({"assignee": "请填写用户名。"})
        if assignee:
            from governance.officers import get_officer
            officer = get_officer(session, assignee.strip())
            if officer is None or not officer.active:
                raise ActionInvalid({"assignee": "没有这个在职用户。"})
            assignee = officer.username
        row = admin.reassign(session, task_id, assignee, reason=reason, actor=actor)
        if row.instance_id != instance_id:
            raise ActionInvalid({"task_id": "该任务不属于这个流程实例。"})
        instance = session.get(Instance, instance_id)
    elif action == "migrate":
        target = body.get("target_version_id")
        if target in (None, ""):
            current = session.get(Instance, instance_id)
            if current is None:
                from engine.errors import NotFound
                raise NotFound(f"instance {instance_id} does not exist")
            target = runtime.latest_version(session, current.process_id).id
        try:
            target = int(target)
        except (TypeError, ValueError):
            raise ActionInvalid({"target_version_id": "必须是版本编号（整数）。"}) from None
        instance = admin.migrate(session, instance_id, target, reason=reason, actor=actor)
    elif action == "edit_data":
        changes, remove = body.get("changes") or {}, body.get("remove") or []
        if isinstance(changes, str):
            try:
                changes = json.loads(changes) if changes.strip() else {}
            except ValueError:
                raise ActionInvalid({"changes": "不是有效的 JSON。"}) from None
        if not isinstance(changes, dict):
            raise ActionInvalid({"changes": "必须是 JSON 对象。"})
        if isinstance(remove, str):
            remove = [k.strip() for k in remove.split(",") if k.strip()]
        if not isinstance(remove, list) or not all(isinstance(k, str) for k in remove):
            raise ActionInvalid({"remove": "必须是数据键的列表。"})
        result = admin.edit_data(session, instance_id, changes, reason=reason, actor=actor, remove=remove)
        instance = session.get(Instance, instance_id)
        return {"instance_id": instance_id, "action": action, "status": instance.status,
                "version": instance.version.version, "changed": jsonable(result)}
    elif action == "edit_submission":   # correct the data that raised the incident, then run the step again
        data = body.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data) if data.strip() else None
            except ValueError:
                raise ActionInvalid({"data": "不是有效的 JSON。"}) from None
        if not isinstance(data, dict):
            raise ActionInvalid({"data": "必须是 JSON 对象。"})
        admin.edit_submission(session, instance_id, data, reason=reason, actor=actor)
        instance = admin.retry(session, instance_id, reason=reason, actor=actor)
    elif action == "hand_back":
        from governance.repairs import hand_back_task
        hand_back_task(session, instance_id, reason=reason, actor=actor)
        instance = session.get(Instance, instance_id)
    else:
        raise ActionInvalid({"action": "没有这个操作。"})
    return {"instance_id": instance.id, "action": action, "status": instance.status,
            "version": instance.version.version, "process_version_id": instance.process_version_id,
            "incident": jsonable(instance.incident)}
