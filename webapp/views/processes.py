"""Policy staff: deployed processes and their versions, the modeler (check, deploy), version
download / compare / rollback, the forms editor and the decision table."""
from __future__ import annotations

import json

import jsonschema
from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user

from engine import versions
from engine.deploy import read_folder
from engine.errors import DeployRefused, EngineError, NotFound
from governance import forms as gforms

from .. import policy
from ..auth import roles_required
from ..db import db, write
from ..formview import build_fields
from ..input_guard import id_arg

bp = Blueprint("processes", __name__, url_prefix="/processes")

DMN_FILE = "decisions/priority.dmn"
BLANK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="new_definitions" targetNamespace="http://whistle.example/bpmn/new">
  <bpmn:process id="new_process" name="新流程" isExecutable="true">
    <bpmn:startEvent id="start" name="开始" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="new_diagram">
    <bpmndi:BPMNPlane id="new_plane" bpmnElement="new_process">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="160" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


@bp.before_request
@roles_required("policy_staff")
def _staff_only():
    return None


# -- process list ---------------------------------------------------------------------------------

@bp.get("")
def index():
    items = versions.list_processes(db())
    folder = policy.processes_dir()
    files = sorted(p.name for p in folder.glob("*.bpmn")) if folder.is_dir() else []
    return render_template("processes/list.html", processes=items, files=files)


@bp.get("/versions/<int:version_id>/download")
def download(version_id):
    try:
        found = versions.version_files(db(), version_id)
    except NotFound:
        abort(404)
    name = found["file"]
    version = _version_row(version_id)
    stem = name.rsplit(".", 1)[0]
    return Response(found["files"][name], mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{stem}-v{version.version}.bpmn"'})


def _version_row(version_id):
    from engine.models import ProcessVersion
    row = db().get(ProcessVersion, version_id)
    if row is None:
        abort(404)
    return row


@bp.get("/versions/<int:version_id>/diff")
def diff(version_id):
    other = id_arg("against")
    mine = _version_row(version_id)
    siblings = [v for p in versions.list_processes(db()) if p["process_id"] == mine.process_id for v in p["versions"]]
    if other is None:
        older = [v for v in siblings if v["version"] < mine.version]
        other = older[0]["id"] if older else version_id
    try:
        result = versions.diff_versions(db(), other, version_id)
    except NotFound:
        abort(404)
    return render_template("processes/diff.html", diff=result, version=mine, siblings=siblings, against=other)


@bp.post("/versions/<int:version_id>/rollback")
def rollback(version_id):
    reason = (request.form.get("reason") or "").strip()
    version = _version_row(version_id)
    if not reason:
        flash(_("请填写回滚原因。"), "danger")
        return redirect(url_for(".index"))
    try:
        with write() as tx:
            result = versions.rollback(tx, version_id, reason=reason, actor=current_user.username)
            out = policy.result_dict(result, prefer=version.process_id)
    except DeployRefused as exc:
        flash(_("回滚未通过检查：%(why)s", why="; ".join(str(p) for p in exc.problems)), "danger")
        return redirect(url_for(".index"))
    except EngineError as exc:
        flash(_("回滚失败：%(why)s", why=exc.message), "danger")
        return redirect(url_for(".index"))
    if out["created"]:
        flash(_("已将 %(p)s 第 %(old)d 版的内容部署为第 %(new)d 版。", p=version.process_id, old=version.version,
                new=out["version"]), "success")
    else:
        flash(_("该版本的内容已是最新版本，未创建新版本。"), "info")
    return redirect(url_for(".index"))


# -- modeler --------------------------------------------------------------------------------------

@bp.get("/modeler")
def modeler():
    version_id = id_arg("version")
    file = request.args.get("file")
    name, xml, source = "new_process.bpmn", BLANK, _("新流程图")
    if version_id:
        try:
            found = versions.version_files(db(), version_id)
        except NotFound:
            abort(404)
        row = _version_row(version_id)
        name, xml = found["file"], found["files"][found["file"]]
        source = _("%(p)s 第 %(v)d 版", p=row.process_id, v=row.version)
    elif file:   # the newest deployed content of the file, else the one in processes/
        if not policy.PROCESS_FILE.match(file):
            abort(404)
        deployed = policy.newest_file(db(), file)
        if deployed is not None:
            name, xml, source = file, deployed, _("%(f)s 的最新部署内容", f=file)
        elif (policy.processes_dir() / file).is_file():
            name, xml = file, (policy.processes_dir() / file).read_text(encoding="utf-8")
            source = _("processes/ 文件夹中的 %(f)s", f=file)
        else:
            abort(404)
    return render_template("processes/modeler.html", name=name, xml=xml, source=source)


@bp.get("/choices.json")
def choices_json():
    return jsonify(policy.choices())


def _posted_diagram() -> tuple[str, bytes]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str):
        abort(400)
    name = body.get("name") if isinstance(body.get("name"), str) else "diagram.bpmn"
    name = name.strip() or "diagram.bpmn"
    if not name.lower().endswith((".bpmn", ".dmn")):
        name += ".bpmn"
    return name, body["xml"].encode("utf-8")


@bp.post("/check")
def check():
    name, xml = _posted_diagram()
    problems = policy.check_files(db(), {name: xml})
    return jsonify(ok=not problems, errors=problems)


@bp.post("/deploy")
def deploy():
    name, xml = _posted_diagram()
    body = request.get_json(silent=True) or {}
    note = body.get("note") if isinstance(body.get("note"), str) else None
    try:
        with write() as tx:
            out = policy.result_dict(policy.deploy_files(tx, {name: xml}, actor=current_user.username, note=note))
    except DeployRefused as exc:
        return jsonify(ok=False, errors=policy.problem_dicts(exc.problems)), 422
    if out["created"]:
        flash(_("已部署：%(v)s。", v="、".join(f"{v['process_id']} 第 {v['version']} 版" for v in out["versions"])),
              "success")
    else:
        flash(_("内容与最新版本相同，未创建新版本。"), "info")
    out["ok"] = True
    out["redirect"] = url_for(".index")
    return jsonify(out), 201 if out["created"] else 200


# -- forms ----------------------------------------------------------------------------------------

def _form_name(name: str) -> str:
    if not policy.FORM_FILE.match(name or ""):
        abort(404)
    return name


def schema_problems(text: str, saving: bool = True) -> tuple[dict | None, list[str]]:
    """(schema, problems of the schema itself); a preview (`saving` False) need not be closed yet."""
    try:
        schema = json.loads(text)
    except ValueError as exc:
        return None, [_("不是有效的 JSON：%(why)s", why=str(exc))]
    if not isinstance(schema, dict):
        return None, [_("表单必须是 JSON 对象。")]
    problems = []
    try:
        jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "/"
        problems.append(_("JSON Schema 无效（%(where)s）：%(why)s", where=where, why=exc.message))
    if schema.get("type") not in (None, "object"):
        problems.append(_("表单的顶层类型必须是 object。"))
    if not isinstance(schema.get("properties", {}), dict):
        problems.append(_("properties 必须是对象。"))
    if saving and schema.get("additionalProperties") is not False:   # only declared fields may enter the instance data
        problems.append(_("表单必须是封闭的：请写明 \"additionalProperties\": false，只有表单声明的字段才能写入事项数据。"))
    return schema, problems


def _preview_fields(schema):
    resolved = gforms.resolve_form(json.loads(json.dumps(schema)), db())
    return build_fields(resolved, {}, {})


@bp.get("/forms")
def forms_index():
    return render_template("processes/forms.html", forms=policy.form_files())


@bp.get("/forms/new")
def forms_new():
    name = (request.args.get("fname") or "").strip()
    if name and not name.endswith(".json"):
        name += ".json"
    if not policy.FORM_FILE.match(name):
        flash(_("文件名只能包含字母、数字、_ 和 -，以 .json 结尾。"), "danger")
        return redirect(url_for(".forms_index"))
    return redirect(url_for(".form_edit", name=name, new=1))


@bp.route("/forms/<name>", methods=["GET", "POST"])
def form_edit(name):
    name = _form_name(name)
    saved_text = policy.current_form_text(db(), name)
    new = request.args.get("new") == "1" or saved_text is None
    stored = policy.stored_form(db(), name)
    if request.method == "GET":
        if saved_text is None and request.args.get("new") != "1":
            abort(404)
        text = saved_text if saved_text is not None else json.dumps(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": name[:-5], "type": "object",
             "properties": {}, "required": [], "additionalProperties": False}, ensure_ascii=False, indent=2)
        schema, problems = schema_problems(text)
        fields = _preview_fields(schema) if schema and not problems else []
        return render_template("processes/form_edit.html", name=name, text=text, problems=problems,
                               fields=fields, new=new, stored=stored, collisions=_collisions(name, schema))
    text = request.form.get("schema") or ""
    schema, problems = schema_problems(text)
    if not problems:  # task data must not overwrite what the diagrams using the form route on
        problems = [_("字段“%(field)s”与流程 %(process)s 用于分派或流转的变量同名，提交的数据会覆盖它：请改名，"
                      "或设为只读（readOnly: true，由系统填写）。", **c)
                    for c in policy.routing_collisions(db(), name, schema)]
    if not problems:  # the diagrams that use the form must still deploy with it (e.g. a gateway per value)
        problems = [_("%(file)s 第 %(line)s 行 [%(element)s]：%(message)s", **p)
                    for p in policy.form_change_problems(db(), name, schema)]
    if problems:
        flash(_("未保存：表单定义有误。"), "danger")
        return render_template("processes/form_edit.html", name=name, text=text, problems=problems,
                               fields=[], new=new, stored=stored, collisions=[]), 422
    with write() as tx:
        row = policy.save_form(tx, name, schema, actor=current_user.username)
        version = row.version
    flash(_("已保存表单 %(name)s（第 %(v)d 版，存于数据库）。下次部署使用该表单的流程图时生效；运行中的事项继续使用部署时的表单。",
            name=name, v=version), "success")
    return redirect(url_for(".form_edit", name=name))


def _collisions(name, schema) -> list[str]:
    """The form's fields as saved that task data would overwrite a routing variable with."""
    if not isinstance(schema, dict):
        return []
    return [_("字段“%(field)s”与流程 %(process)s 用于分派或流转的变量同名，提交的数据会覆盖它：请改名，"
              "或设为只读（readOnly: true，由系统填写）。", **c)
            for c in policy.routing_collisions(db(), name, schema, only_new=False)]


@bp.post("/forms/preview")
def form_preview():
    schema, problems = schema_problems(request.form.get("schema") or "", saving=False)
    fields = _preview_fields(schema) if schema and not problems else []
    return render_template("processes/_form_preview.html", fields=fields, problems=problems)


# -- decision tables ------------------------------------------------------------------------------

def _dmn_path():
    return policy.processes_dir() / DMN_FILE


def _decision_set() -> dict[str, bytes]:
    """The files deployed with the decision table: those of processes/, each as last deployed."""
    files = read_folder(policy.processes_dir()) if policy.processes_dir().is_dir() else {}
    files.update(policy.newest_files(db(), list(files) or [DMN_FILE]))
    return files


@bp.get("/decisions")
def decisions():
    xml = policy.newest_file(db(), DMN_FILE)
    if xml is None:
        if not _dmn_path().is_file():
            abort(404)
        xml = _dmn_path().read_text(encoding="utf-8")
    return render_template("processes/decisions.html", xml=xml, name=DMN_FILE)


@bp.post("/decisions")
def decisions_save():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str):
        abort(400)
    xml = body["xml"].encode("utf-8")
    files = _decision_set()
    files[DMN_FILE] = xml
    only_check = bool(body.get("check_only"))
    if only_check:
        problems = _check_set(files)
        return jsonify(ok=not problems, errors=problems)
    try:
        with write() as tx:
            from engine.deploy import deploy as engine_deploy
            result = engine_deploy(tx, files, forms_dir=policy.forms_dir(), actor=current_user.username,
                                   note="decision table edited", form_overrides=policy.stored_forms(tx))
            out = policy.result_dict(result)
    except DeployRefused as exc:
        return jsonify(ok=False, errors=policy.problem_dicts(exc.problems)), 422
    except Exception as exc:  # never a 500 for a bad table
        current_app.logger.warning("DMN deploy failed: %r", exc)
        return jsonify(ok=False, errors=[{"file": DMN_FILE, "element": None, "line": None,
                                          "message": f"{exc.__class__.__name__}: {exc}"}]), 422
    flash(_("已保存决策表并与流程一同部署（%(n)d 个流程版本）。", n=len(out["versions"])) if out["created"]
          else _("决策表与流程均无变化，未创建新版本。"), "success" if out["created"] else "info")
    out.update(ok=True, redirect=url_for(".index"))
    return jsonify(out), 201 if out["created"] else 200


def _check_set(files):
    from engine.deploy import check as engine_check
    try:
        checker, *_ = engine_check(db(), files, policy.forms_dir(), form_overrides=policy.stored_forms(db()))
        return policy.problem_dicts(checker.problems)
    except Exception as exc:
        return [{"file": DMN_FILE, "element": None, "line": None, "message": f"{exc.__class__.__name__}: {exc}"}]
