"""GET /api/v1/stats: the R20 figures of the dashboard, with the same filters, the same scope
rule (district_org: its own district; city_org and admin: everything) and the same function
(`webapp.views.reports.dashboard_figures`). Conventions of `webapp.api`: bearer token, errors as
{"error": {"code", "message"}}."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _

from governance.stats import StatsError

from .api import ApiError, authenticate, error_response
from .db import db
from .extensions import csrf
from .views.reports import ScopeError, dashboard_figures

bp = Blueprint("api_stats", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.errors)


@bp.before_request
def _authenticate():
    authenticate()


@bp.get("/stats")
def get_stats():
    try:
        figures = dashboard_figures(db(), g.api_user, request.args)
    except ScopeError:
        raise ApiError(403, "forbidden", _("无权查看这些统计数据。")) from None
    except StatsError as exc:
        raise ApiError(422, "invalid", str(exc), [{"field": "", "message": str(exc)}]) from None
    return jsonify(figures)
