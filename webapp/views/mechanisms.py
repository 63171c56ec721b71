"""R15 standing mechanisms (长效机制): a searchable register for every officer, and the panel of
matching mechanisms on a whistle's page (template global `related_mechanisms`)."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from governance.directory import CATEGORIES, departments, unit_name
from governance.mechanisms_search import mechanisms_for_whistle, search_mechanisms

from ..db import db

bp = Blueprint("mechanisms", __name__)


@bp.get("/mechanisms")
@login_required
def index():
    session = db()
    args = {k: (request.args.get(k) or "").strip()[:200] or None for k in ("q", "category", "department")}
    if args["category"] not in CATEGORIES:
        args["category"] = None
    items = search_mechanisms(session, args["q"], args["category"], args["department"], limit=200)
    return render_template("mechanisms/index.html", items=items, args=args, categories=CATEGORIES,
                           departments=departments(session), unit_name=lambda u: unit_name(session, u))


@bp.app_template_global()
def related_mechanisms(whistle) -> list[dict]:
    """Standing mechanisms matching a whistle (R15), for its page."""
    try:
        return mechanisms_for_whistle(db(), whistle)
    except Exception:  # noqa: BLE001  (a hint panel never breaks the whistle page)
        return []
