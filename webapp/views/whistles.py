"""A whistle: facts, deadlines, timeline, involved departments, the diagram, photos; search.

Personal data (PIPL): the reporter is shown only to the community and the street handling the
whistle and to administrators, and each such page view is audited; everyone else reads the title
and description with phone and identity card numbers masked (governance.privacy)."""
from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, abort, render_template, request, send_file
from flask_login import current_user, login_required

from engine.clock import now
from engine.errors import NotFound
from governance import privacy, workspace
from governance.directory import CATEGORIES, unit_name
from governance.register import STAGES, whistle_record

from .. import uploads
from ..db import db, write

bp = Blueprint("whistles", __name__)


def _visible(whistle_id):
    try:
        return workspace.visible_whistle(db(), current_user, whistle_id)
    except NotFound:
        abort(404)
    except workspace.Forbidden:
        abort(403)


@bp.get("/whistles/<int:whistle_id>")
@login_required
def show(whistle_id):
    session = db()
    whistle = _visible(whistle_id)
    record = whistle_record(session, whistle.id)
    tasks = workspace.instance_tasks(session, whistle.instance_id) if whistle.instance_id else []
    mine = {t.id for t in tasks if workspace.may_do(current_user, t)}
    diagrams = workspace.diagrams(session, whistle)
    reporter = None
    if whistle.reporter and privacy.may_see_reporter(current_user, whistle):
        with write() as tx:
            reporter = privacy.reporter_for(tx, current_user, whistle, via="page")
    shown = privacy.record_for(record, current_user, whistle)
    return render_template("whistle.html", whistle=whistle, record=record, tasks=tasks, mine=mine,
                           reporter=reporter, shown=shown,
                           events=workspace.timeline(session, whistle), stages=STAGES,
                           departments=workspace.involved_departments(session, whistle),
                           diagrams=diagrams, json=json, now=now(),
                           unit_name=lambda u: unit_name(session, u))


@bp.app_template_global()
def whistle_text(whistle, text):
    """A whistle's free text as the signed-in officer may read it (masked unless they handle it)."""
    return privacy.visible_text(current_user, whistle, text)


@bp.get("/whistles/<int:whistle_id>/photos/<int:index>")
@login_required
def photo(whistle_id, index):
    whistle = _visible(whistle_id)
    items = whistle.attachments or []
    if index >= len(items) or not isinstance(items[index], dict):
        abort(404)
    path = uploads.path_of(items[index])
    if path is None:
        abort(404)
    return send_file(path, mimetype=items[index].get("content_type") or "application/octet-stream",
                     download_name=items[index].get("name") or path.name, max_age=3600)


SEARCH_YEARS = (1900, 2999)


def _search_date(value: str | None) -> str | None:
    try:
        day = date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None
    return value if day and SEARCH_YEARS[0] <= day.year <= SEARCH_YEARS[1] else None


@bp.get("/whistles")
@login_required
def search():
    args = {k: (request.args.get(k) or "").strip() or None for k in ("q", "category", "stage", "date_from", "date_to")}
    try:
        page_no = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page_no = 1
    for key in ("date_from", "date_to"):   # only real dates of a sensible year (2026-02-30, 0001-01-01: ignored)
        args[key] = _search_date(args[key])
    if args["stage"] not in STAGES:
        args["stage"] = None
    page = workspace.search_whistles(db(), current_user, page=page_no, **args)
    session = db()
    return render_template("search.html", page=page, args=args, categories=CATEGORIES, stages=STAGES,
                           unit_name=lambda u: unit_name(session, u))
