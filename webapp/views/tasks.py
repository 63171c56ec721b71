"""The task page: the form from its JSON Schema beside the whistle's facts and history; reassign."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import admin as eadmin
from engine.clock import now
from engine.errors import EngineError, FormInvalid, IncidentRaised, TaskNotReady
from governance import forms, handoffs, prefill, workspace
from governance.directory import unit_name

from ..db import db, write
from ..terms import term
from ..formview import build_fields, display_schema, error_map
from ..i18n import ROLE_NAMES, engine_error_message, field_error_message

bp = Blueprint("tasks", __name__)


def handed_to_text(where: dict) -> str:
    """Where the whistle went and who holds it now (governance.handoffs.whereabouts), one sentence."""
    if where["closed"]:
        return _("事项已办结，流程结束。")
    if where["tasks"]:
        holders = "；".join(_("%(task)s（%(unit)s）", task=term(t["name"], t["task"]),
                              unit=t["unit_name"] or ROLE_NAMES.get(t["role"], t["role"] or ""))
                           for t in where["tasks"])
        return _("下一步：%(holders)s。", holders=holders)
    return _("当前阶段：%(stage)s（等待中，无人待办）。", stage=term(where["stage_name"] or "", where["stage"] or ""))


def _load(task_id: str):
    session = db()
    try:
        return workspace.task_for(session, current_user, task_id)
    except TaskNotReady as exc:
        flash(engine_error_message(exc), "warning")
        return None
    except workspace.Forbidden:
        abort(403)


def _render(task, whistle, schema, values, errors, status=200):
    session = db()
    context = workspace.task_context(session, task)
    readonly = dict(context)
    for key, value in list(readonly.items()):
        if key.endswith("department_id") and isinstance(value, str):
            readonly[key] = unit_name(session, value)
    fields = build_fields(schema, values, errors, readonly) if schema else []
    item = workspace.task_item(session, task)
    events = workspace.timeline(session, whistle) if whistle else []
    officers = workspace.assignable_officers(session, current_user, task, whistle)
    handoff = {"suggestion": prefill.street_suggestion(session, task),
               "proposed_role": prefill.proposed_roles(session, [task]).get(task.id)}
    return render_template("task.html", task=task, item=item, whistle=whistle, schema=display_schema(schema),
                           handoff=handoff,
                           fields=fields,
                           errors=errors, events=events, context=context, officers=officers, now=now(),
                           unit_name=lambda u: unit_name(session, u),
                           handed_back=eadmin.handed_back(session, task.id)), status


@bp.get("/tasks/<task_id>")
@login_required
def show(task_id):
    found = _load(task_id)
    if found is None:
        return redirect(url_for("inbox.index"))
    task, whistle = found
    schema = workspace.task_form(db(), task)
    return _render(task, whistle, schema, prefill.initial_values(db(), task, schema), {})


@bp.post("/tasks/<task_id>")
@login_required
def submit(task_id):
    found = _load(task_id)
    if found is None:
        return redirect(url_for("inbox.index"))
    task, whistle = found
    schema = workspace.task_form(db(), task) or {"type": "object", "properties": {}}
    values = forms.coerce_posted(schema, request.form.getlist)
    errors = error_map(forms.problems(schema, values, forms.task_rule_context(db(), task)))
    if not errors:
        try:
            with write() as tx:
                instance = workspace.complete_task(tx, current_user, task_id, values)
                incident = instance.status == "incident"
                where = handoffs.whereabouts(tx, instance.id)
        except TaskNotReady as exc:
            flash(engine_error_message(exc), "warning")
            return redirect(url_for("inbox.index"))
        except FormInvalid as exc:
            errors = {e.field: field_error_message(e) for e in exc.errors}
        except (workspace.Forbidden,):
            abort(403)
        except EngineError as exc:
            flash(engine_error_message(exc), "danger")
            return redirect(url_for("inbox.index"))
        except ValueError as exc:   # a governance hook refused the values
            flash(_("未能办理：%(reason)s", reason=str(exc)), "danger")
            return _render(task, whistle, schema, values, {}, 422)
        else:
            if incident:   # recorded for an administrator to retry; the step itself was rolled back
                flash(engine_error_message(IncidentRaised("incident")), "danger")
                return redirect(url_for("whistles.show", whistle_id=whistle.id) if whistle else url_for("inbox.index"))
            flash(_("已办理“%(name)s”（%(no)s）。", name=term(task.name, task.task),
                    no=whistle.whistle_no if whistle else task.instance_id) + " " + handed_to_text(where), "success")
            return redirect(url_for("inbox.index"))
    flash(_("表单有误，请按提示修改。"), "danger")
    return _render(task, whistle, schema, values, errors, 422)


@bp.post("/tasks/<task_id>/assign")
@login_required
def assign(task_id):
    username = request.form.get("assignee") or None
    try:
        with write() as tx:
            workspace.reassign(tx, current_user, task_id, username)
    except TaskNotReady as exc:
        flash(engine_error_message(exc), "warning")
        return redirect(url_for("inbox.index"))
    except workspace.Forbidden:
        abort(403)
    except workspace.WorkspaceError:
        flash(_("只能指派给本单位承担该任务的人员。"), "danger")
        return redirect(url_for("tasks.show", task_id=task_id))
    if username:
        flash(_("已将任务指派给 %(who)s。", who=username), "success")
    else:
        flash(_("已取消任务指派。"), "success")
    return redirect(url_for("tasks.show", task_id=task_id))
