"""Notices to my unit (what the procedure tells it), with the unread count in the header."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from governance.models import Notice
from governance.notices import mark_read, notices_for

from ..db import db, write

bp = Blueprint("notices", __name__)


def unread_count(session, unit_id) -> int:
    if not unit_id:
        return 0
    return session.scalar(select(func.count(Notice.id)).where(Notice.unit_id == unit_id, Notice.read_at.is_(None))) or 0


@bp.get("/notices")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    items = notices_for(db(), current_user.unit_id, unread_only=unread_only, limit=200) if current_user.unit_id else []
    return render_template("notices.html", items=items, unread_only=unread_only)


@bp.post("/notices/<int:notice_id>/read")
@login_required
def read(notice_id):
    with write() as tx:
        ok = mark_read(tx, notice_id, current_user.unit_id)
    flash(_("已标记为已读。") if ok else _("找不到该通知。"), "success" if ok else "warning")
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url) else url_for("notices.index"))


@bp.post("/notices/read-all")
@login_required
def read_all():
    with write() as tx:
        items = notices_for(tx, current_user.unit_id, unread_only=True, limit=10_000) if current_user.unit_id else []
        for n in items:
            mark_read(tx, n.id, current_user.unit_id)
    flash(_("已将 %(n)d 条通知标记为已读。", n=len(items)), "success")
    return redirect(url_for("notices.index"))
