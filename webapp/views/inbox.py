"""The inbox: my unit's ready tasks; the community's quarterly joint meeting for many whistles."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.clock import now
from engine.errors import EngineError, FormInvalid
from governance import forms, prefill, workspace
from governance.directory import CATEGORIES

from ..db import db, write
from ..formview import build_fields, display_schema, error_map
from ..i18n import engine_error_message

bp = Blueprint("inbox", __name__)


def _int_arg(name: str, default: int) -> int:
    try:
        return max(1, int(request.args.get(name, default)))
    except ValueError:
        return default


@bp.get("/")
@bp.get("/inbox")
@login_required
def index():
    filters = {"task": request.args.get("task") or None, "category": request.args.get("category") or None,
               "overdue": request.args.get("overdue") == "1", "mine": request.args.get("mine") == "1",
               "order": "due" if request.args.get("order") == "due" else "newest"}
    page = workspace.inbox(db(), current_user, page=_int_arg("page", 1), per_page=20, **filters)
    has_joint = "joint_meeting" in page.counts["by_task"]
    return render_template("inbox.html", page=page, filters=filters, categories=CATEGORIES, now=now(),
                           has_joint=has_joint, proposed_roles=prefill.proposed_roles(db(), page.items),
                           waiting=workspace.waiting_for_others(db(), current_user))


@bp.route("/inbox/joint-meeting", methods=["GET", "POST"])
@login_required
def joint_meeting():
    """R3: record one joint meeting (one decision + minutes) for the chosen waiting whistles."""
    session = db()
    tasks = workspace.joint_meeting_tasks(session, current_user)
    if not tasks:
        flash(_("没有等待社区党建联席会议研究的事项。"), "info")
        return redirect(url_for("inbox.index"))
    first = session.get(workspace.InboxTask, tasks[0].id)
    schema = workspace.task_form(session, first)
    values, errors, chosen = {}, {}, [t.id for t in tasks]
    if request.method == "POST":
        chosen = request.form.getlist("task_ids")
        values = forms.coerce_posted(schema, request.form.getlist)
        errors = error_map(forms.problems(schema, values))
        if not chosen:
            errors["task_ids"] = _("请至少选择一个事项。")
        if not errors:
            try:
                with write() as tx:
                    done = workspace.record_joint_meeting(tx, current_user, chosen, values)
            except FormInvalid as exc:
                errors = {e.field: _("填写的内容不符合要求。") for e in exc.errors}
            except EngineError as exc:
                flash(engine_error_message(exc), "danger")
                return redirect(url_for("inbox.joint_meeting"))
            else:
                flash(_("已记录联席会议，%(n)d 个事项已办理。", n=len(done)), "success")
                return redirect(url_for("inbox.index"))
        flash(_("表单有误，请按提示修改。"), "danger")
    fields = build_fields(schema, values, errors)
    return render_template("joint_meeting.html", tasks=tasks, fields=fields, errors=errors, chosen=chosen,
                           schema=display_schema(schema), now=now()), (422 if errors else 200)
