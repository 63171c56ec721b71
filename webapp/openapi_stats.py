"""The OpenAPI description of GET /api/v1/stats (webapp.api_stats), merged into the document of
/api/v1 by `webapp.openapi.document`."""
from __future__ import annotations

from .openapi import _ref

RATE = {"type": ["number", "null"], "description": "percentage with one decimal; null when nothing to compute"}
COUNT = {"type": "integer", "minimum": 0}

ROW_COUNTS = ("reported", "closed", "solved", "cannot_solve", "closed_at_meeting", "long_term", "open", "overdue",
              "dispatched", "extended", "task_orders")
ROW_RATES = ("on_time_report_rate", "on_time_completion_rate", "extension_rate", "satisfaction_rate")
TOTALS = (*ROW_COUNTS,
          "departments_reported", "surveys", "respondents", "satisfied")
RATES = ("on_time_report", "on_time_completion", "extension", "satisfaction")
FILTERS = {
    "year": ({"type": "integer"}, "Calendar year of the report date (Asia/Shanghai)"),
    "from": ({"type": "string", "format": "date"}, "Report date from (inclusive), YYYY-MM-DD"),
    "to": ({"type": "string", "format": "date"}, "Report date to (inclusive), YYYY-MM-DD"),
    "district": ({"type": "string"}, "District unit id (district_org: only its own; other values → 403)"),
    "street": ({"type": "string"}, "Street unit id"),
    "community": ({"type": "string"}, "Community unit id"),
    "department": ({"type": "string"}, "Department id, lead or cooperating"),
    "category": ({"type": "string"}, "Whistle category, e.g. 交通出行"),
}


SCHEMAS = {
    "StatsRow": {"type": "object", "required": ["id", "name", *ROW_COUNTS, *ROW_RATES], "properties": {
        "id": {"type": "string", "description": "unit id, category, or YYYY-MM for by_month"},
        "name": {"type": "string"}, **{k: COUNT for k in ROW_COUNTS}, **{k: RATE for k in ROW_RATES}}},
    "Stats": {"type": "object", "required": ["filters", "totals", "rates"], "properties": {
        "filters": {"type": "object", "description": "the filters applied (district set for district_org)",
                    "properties": {k: {"type": [s["type"], "null"]} for k, (s, _) in FILTERS.items()}},
        "totals": {"type": "object", "required": list(TOTALS), "properties": {k: COUNT for k in TOTALS}},
        "rates": {"type": "object", "required": list(RATES), "properties": {k: RATE for k in RATES}},
        **{f"by_{b}": {"type": "array", "items": _ref("StatsRow")}
           for b in ("district", "street", "community", "department", "category", "month")}}},
}


def paths(secured: list) -> dict:
    def err(code: int, text: str, schema: str = "Error") -> dict:
        return {"description": text, "content": {"application/json": {"schema": _ref(schema)}}}
    return {"/stats": {"get": {
        "operationId": "getStats", "security": secured,
        "summary": "R20 figures: reported, solved, open, overdue, departments reported, rates and breakdowns",
        "description": "Exactly the figures of the dashboard page (/dashboard) for the same filters. "
                       "Roles: city_org and admin see everything, district_org its own district. "
                       "`solved` counts only whistles closed as resolved (locally by the community, by the "
                       "street's coordination, or completed by the departments); closures as `cannot_solve`, "
                       "`closed_at_meeting` (the community's joint meeting) and `long_term` (a standing "
                       "mechanism) are counted apart; `closed` counts every closure and open = reported − closed.",
        "parameters": [{"name": k, "in": "query", "required": False, "schema": s, "description": d}
                       for k, (s, d) in FILTERS.items()],
        "responses": {"200": {"description": "The figures", "content": {"application/json": {"schema": _ref("Stats")}}},
                      "401": err(401, "Missing, invalid or expired token"),
                      "403": err(403, "Not allowed for this officer's role or district"),
                      "422": err(422, "A filter value is invalid (e.g. a date that is not YYYY-MM-DD)",
                                 "ValidationError")}}}}
