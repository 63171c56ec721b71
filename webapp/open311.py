"""Open311 GeoReport v2 intake at /open311/v2 (R1: residents' platforms report whistles).

    GET  /open311/v2/services.json              one service per whistle category
    GET  /open311/v2/services/<code>.json       its definition (no extra attributes)
    POST /open311/v2/requests.json              report a whistle (form-encoded, as the spec says)
    GET  /open311/v2/requests/<id>.json         status of one request (id = the whistle's public id)
    GET  /open311/v2/requests.json              ?service_request_id=a,b, or (with api_key) a paged
                                                listing: service_code, status, start_date, end_date,
                                                page, page_size

A request names its community with the jurisdiction-specific parameter `attribute[community_id]`
(or plain `community_id`). POST needs credentials: `api_key` equal to the configured
`OPEN311_API_KEY` (env `WHISTLE_OPEN311_API_KEY`; unset means no key is accepted), or
`Authorization: Bearer TOKEN` of an officer (POST /api/v1/session) whose role is grid_worker or
community; an officer may only report to the communities they may report to in the web form.
Personal data (PIPL): a request is known by a random public id (`Whistle.public_id`), never by its
sequential whistle number, and only public whistles answer (what the platform reported with its key,
or what an officer marked `attribute[public]=true`; whistles officers entered are internal). Without
a key a request shows its status and the replies to residents only (R19: no officer names, no
description, no reporter, no address); with the platform's `api_key` it also shows the description
(phone and ID numbers masked) and the address, may be named by its whistle number, and requests may
be listed by date, page by page. The reporter is never shown here.

Abuse: intake is rate-limited per key and per officer (webapp.intake_limits), and a request body is
capped at `OPEN311_MAX_BODY` bytes (every field of a whistle has its own cap as well).
Every error is an Open311 error array `[{"code": status, "description": ...}]`.
"""
from __future__ import annotations

import hmac
import math
from datetime import datetime, timedelta

from flask import Blueprint, current_app, jsonify, request, url_for
from sqlalchemy import func, or_, select
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.clock import now
from engine.errors import EngineError
from governance import workspace
from governance.calendar import iso, parse_datetime
from governance.directory import CATEGORIES, unit_name
from governance.models import Whistle, WhistleEvent
from governance.privacy import mask
from governance.register import RegisterError, report_whistle

from . import intake_limits
from .auth import bearer_user
from .db import db, write
from .extensions import csrf, limiter

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)

OFFICER_ROLES = ("grid_worker", "community")
MAX_DESCRIPTION = 4000
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
DEFAULT_MAX_BODY = 16 * 1024     # OPEN311_MAX_BODY: bytes of one request (form fields only; no uploads)
TRUE = ("1", "true", "yes")

# service_code -> (category in the register, service_name, description, keywords, group)
SERVICES: dict[str, tuple[str, str, str, str, str]] = {
    "safety": ("安全", "安全哨", "安全隐患：消防通道、危房、电动车充电、燃气等。", "安全,隐患,消防,燃气", "社区五哨"),
    "street_lights": ("明灯", "明灯哨", "路灯、楼道灯不亮或损坏。", "路灯,楼道灯,照明", "社区五哨"),
    "disability_help": ("助残", "助残哨", "残疾人、困难群众的帮扶需求。", "助残,无障碍,帮扶", "社区五哨"),
    "culture": ("文化", "文化哨", "群众文化活动、场地和设施需求。", "文化,活动,场地", "社区五哨"),
    "urgent_needs": ("需求", "需求哨", "群众急需解决的需求（如疫情期间的生活保障）。", "需求,急需,保障", "社区五哨"),
    "city_appearance": ("市容环境", "市容环境", "市容环境整治：垃圾、乱堆乱放、占道经营等。", "市容,环境,垃圾,占道", "事项类别"),
    "transport": ("交通出行", "交通出行", "交通出行保障：公交站点、停车、道路通行等。", "公交,停车,交通", "事项类别"),
    "utilities": ("水电气", "水电气", "供水、供电、供气维护。", "供水,供电,供气,停水,停电", "事项类别"),
    "roads": ("道路设施", "道路设施", "道路、井盖、人行道等设施维护。", "道路,井盖,人行道", "事项类别"),
    "education": ("教育", "教育", "入学、小饭桌整治等教育相关问题。", "教育,学校,小饭桌", "事项类别"),
    "health": ("卫生健康", "卫生健康", "医疗卫生、健康服务相关问题。", "卫生,医疗,健康", "事项类别"),
    "social_security": ("社会保障", "社会保障", "养老、低保、就业等社会保障问题。", "养老,低保,就业,社保", "事项类别"),
    "market_order": ("市场秩序", "市场秩序", "市场经营秩序、食品安全等问题。", "市场,食品,经营", "事项类别"),
    "ecology": ("生态环境", "生态环境", "噪声、污水、废气等生态环境问题。", "噪声,污水,废气,污染", "事项类别"),
    "planning": ("规划建设", "规划建设", "违章建筑、小区规划建设问题。", "违建,规划,建设", "事项类别"),
    "telecom": ("通信", "通信", "通信信号、线缆等问题。", "通信,信号,线缆", "事项类别"),
    "public_security": ("治安", "治安", "社会治安相关问题。", "治安,安全,巡逻", "事项类别"),
    "other": ("其他", "其他", "不属于以上类别的问题。", "其他", "事项类别"),
}
CODE_OF_CATEGORY = {v[0]: k for k, v in SERVICES.items()}
assert set(CODE_OF_CATEGORY) == set(CATEGORIES), "every whistle category needs an Open311 service"


class Open311Error(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def error_array(status: int, description: str):
    return jsonify([{"code": status, "description": description}]), status


DESCRIPTIONS = {400: "Bad request.", 401: "Credentials required.", 403: "Forbidden.", 404: "Not found.",
                405: "Method not allowed.", 413: "Request too large.", 429: "Too many requests.",
                500: "Internal server error."}


def http_error(exc: HTTPException):
    """Any HTTP error under /open311/ as an Open311 error array (used by the app's handlers too)."""
    status = exc.code or 500
    return error_array(status, DESCRIPTIONS.get(status, exc.description or "Error."))


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    return error_array(exc.status, exc.description)


@bp.before_request
def _cap_body():
    limit = current_app.config.get("OPEN311_MAX_BODY") or DEFAULT_MAX_BODY
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return http_error(exc)


# -- services --------------------------------------------------------------------------------------

def _service(code: str) -> dict:
    category, name, description, keywords, group = SERVICES[code]
    return {"service_code": code, "service_name": name, "description": description, "metadata": False,
            "type": "realtime", "keywords": keywords, "group": group}


@bp.get("/services.json")
def services():
    return jsonify([_service(code) for code in SERVICES])


@bp.get("/services/<code>.json")
def service_definition(code):
    if code not in SERVICES:
        raise Open311Error(404, f"service_code '{code[:50]}' not found")
    return jsonify({"service_code": code, "attributes": []})


# -- requests --------------------------------------------------------------------------------------

def _param(name: str, limit: int = 300) -> str:
    value = request.values.get(name)
    if value is None:
        return ""
    value = value.strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name} is too long (at most {limit} characters)")
    if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):
        raise Open311Error(400, f"{name} holds characters that are not text")
    return value


def _coordinate(name: str, bound: float) -> float | None:
    text = _param(name, 40)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number") from None
    if not math.isfinite(value) or abs(value) > bound:
        raise Open311Error(400, f"{name} must be between -{bound:g} and {bound:g}")
    return value


def _has_key() -> bool:
    """True with the configured api_key, False without any; Open311Error 403 for a wrong one."""
    key = request.values.get("api_key")
    if not key:
        return False
    configured = current_app.config.get("OPEN311_API_KEY")
    if configured and hmac.compare_digest(str(key).encode("utf-8", "replace"), str(configured).encode()):
        return True
    raise Open311Error(403, "api_key is not valid")


def _credentials():
    """None for a valid api_key, else the officer of the bearer token; Open311Error 403 otherwise."""
    if _has_key():
        return None
    user = bearer_user(request.headers)
    if user is None:
        raise Open311Error(403, "api_key or a valid bearer token is required")
    if user.role not in OFFICER_ROLES:
        raise Open311Error(403, "this account may not report requests")
    return user


@bp.post("/requests.json")
@limiter.limit(intake_limits.open311_limit, key_func=intake_limits.open311_reporter)
def create_request():
    user = _credentials()
    # the platform's reports are public; an officer's are internal unless marked public
    public = user is None or _param("attribute[public]", 10).lower() in TRUE
    code = _param("service_code", 50)
    if not code:
        raise Open311Error(400, "service_code is required")
    if code not in SERVICES:
        raise Open311Error(400, f"service_code '{code}' not found")
    community = _param("attribute[community_id]", 50) or _param("community_id", 50)
    session = db()
    if user is not None:
        allowed = [c.id for c in workspace.intake_communities(session, user)]
        if not community and len(allowed) == 1:
            community = allowed[0]
        if community and community not in allowed:
            raise Open311Error(403, f"this account may not report to community '{community}'")
    if not community:
        raise Open311Error(400, "attribute[community_id] is required")
    lat, lon = _coordinate("lat", 90), _coordinate("long", 180)
    address = _param("address_string", 250) or _param("address_id", 250)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long must be given together")
    if lat is None and not address:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    description = _param("description", MAX_DESCRIPTION)
    media_url = _param("media_url", 1000)
    if media_url:
        description = f"{description}\n附图：{media_url}".strip()
    names = " ".join(x for x in (_param("first_name", 60), _param("last_name", 60)) if x)
    contact = ", ".join(x for x in (_param("phone", 40), _param("email", 90)) if x)
    reporter = (f"{names} ({contact})" if names and contact else names or contact)[:200] or None
    point = f"{lat:.6f},{lon:.6f}" if lat is not None else ""
    location = (f"{address} ({point})" if address and point else address or point)[:300]
    category, name = SERVICES[code][0], SERVICES[code][1]
    first_line = (description.splitlines() or [""])[0].strip()
    title = f"{name}：{mask(first_line)[:60]}" if first_line else name   # titles are listed widely: no numbers
    try:
        with write() as tx:
            whistle = report_whistle(tx, title=title, description=description or None, category=category,
                                     community_id=community, location=location, reporter=reporter,
                                     source="platform", actor=user.username if user else "open311")
            whistle.public = public
            tx.flush()
            public_id = whistle.public_id
            notice = _latest_reply(tx, whistle) or ""
    except RegisterError as exc:
        raise Open311Error(400, str(exc)) from None
    except EngineError as exc:
        current_app.logger.warning("open311 intake failed: %s", exc)
        raise Open311Error(503, "the request could not be registered now; please retry") from None
    response = jsonify([{"service_request_id": public_id, "service_notice": notice}])
    response.status_code = 201
    return response


def _latest_reply(session, whistle: Whistle) -> str | None:
    session.flush()
    return session.scalar(select(WhistleEvent.reply)
                          .where(WhistleEvent.whistle_id == whistle.id, WhistleEvent.reply.is_not(None))
                          .order_by(WhistleEvent.id.desc()).limit(1))


def _updated(session, whistle: Whistle) -> datetime:
    last = session.scalar(select(WhistleEvent.at).where(WhistleEvent.whistle_id == whistle.id)
                          .order_by(WhistleEvent.id.desc()).limit(1))
    return last or whistle.created_at


def _as_request(session, whistle: Whistle, *, keyed: bool) -> dict:
    """What a residents' platform may show: without a key the status and the replies only."""
    code = CODE_OF_CATEGORY.get(whistle.category or "")
    service_name = SERVICES[code][1] if code else (whistle.category or None)
    agency = whistle.lead_department_id or whistle.community_id
    return {
        "service_request_id": whistle.public_id,
        "status": "closed" if whistle.stage == "closed" else "open",
        "status_notes": mask(_latest_reply(session, whistle)),
        "service_name": service_name, "service_code": code,
        "description": mask(whistle.description) if keyed else None,
        "agency_responsible": unit_name(session, agency) if agency else None,
        "service_notice": None,
        "requested_datetime": iso(whistle.created_at),
        "updated_datetime": iso(_updated(session, whistle)),
        "expected_datetime": iso(whistle.complete_due),
        "address": whistle.location if keyed else None, "address_id": None, "zipcode": None,
        "lat": None, "long": None, "media_url": None,
        "community_id": whistle.community_id if keyed else None,
    }


def _find(session, request_id: str, *, keyed: bool) -> Whistle | None:
    """The public whistle known by `request_id`: its public id, or (with the key) its number."""
    request_id = (request_id or "").strip()
    if not request_id or len(request_id) > 40:
        return None
    names = [Whistle.public_id == request_id]
    if keyed and not request_id.isdigit():   # whistle numbers, never the register's internal ids
        names.append(Whistle.whistle_no == request_id)
    return session.scalars(select(Whistle).where(Whistle.public.is_(True), or_(*names)).limit(1)).first()


@bp.get("/requests/<request_id>.json")
def get_request(request_id):
    session = db()
    keyed = _has_key()
    whistle = _find(session, request_id, keyed=keyed)
    if whistle is None:
        raise Open311Error(404, f"service_request_id '{request_id[:40]}' not found")
    return jsonify([_as_request(session, whistle, keyed=keyed)])


def _date_param(name: str) -> datetime | None:
    text = _param(name, 40)
    if not text:
        return None
    try:
        value = parse_datetime(text.replace("Z", "+00:00"))
        value - timedelta(days=366)                # within the range of dates we can count back from
        value + timedelta(days=366)
        return value
    except (ValueError, TypeError, OverflowError):
        raise Open311Error(400, f"{name} must be an ISO 8601 date-time") from None


def _int_param(name: str, default: int, lowest: int, highest: int) -> int:
    text = _param(name, 12)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise Open311Error(400, f"{name} must be a whole number") from None
    if not lowest <= value <= highest:
        raise Open311Error(400, f"{name} must be between {lowest} and {highest}")
    return value


@bp.get("/requests.json")
def list_requests():
    session = db()
    keyed = _has_key()
    ids = _param("service_request_id", 2000)
    if ids:
        found = [w for w in (_find(session, i, keyed=keyed) for i in ids.split(",")[:100]) if w is not None]
        if not found:
            raise Open311Error(404, "service_request_id not found")
        return jsonify([_as_request(session, w, keyed=keyed) for w in found])
    if not keyed:
        raise Open311Error(403, "listing requests needs api_key; ask for single requests by service_request_id")
    page = _int_param("page", 1, 1, 100_000)
    page_size = _int_param("page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    stmt = select(Whistle).where(Whistle.public.is_(True))
    code = _param("service_code", 200)
    if code:
        categories = [SERVICES[c][0] for c in code.split(",") if c in SERVICES]
        if not categories:
            raise Open311Error(400, f"service_code '{code}' not found")
        stmt = stmt.where(Whistle.category.in_(categories))
    status = _param("status", 20)
    if status:
        if status not in ("open", "closed"):
            raise Open311Error(400, "status must be open or closed")
        stmt = stmt.where(Whistle.stage == "closed" if status == "closed" else Whistle.stage != "closed")
    end = _date_param("end_date") or now()
    start = _date_param("start_date") or end - timedelta(days=90)
    if start > end:
        raise Open311Error(400, "start_date must not be after end_date")
    stmt = stmt.where(Whistle.created_at >= start, Whistle.created_at <= end)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Whistle.id.desc()).limit(page_size).offset((page - 1) * page_size))
    response = jsonify([_as_request(session, w, keyed=True) for w in rows])
    # paging beside the Open311 array: the total, and the next page's address without the key
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Page"], response.headers["X-Page-Size"] = str(page), str(page_size)
    if page * page_size < total:
        args = {k: v for k, v in request.args.items() if k not in ("api_key", "page")}
        response.headers["Link"] = f'<{url_for("open311.list_requests", page=page + 1, **args)}>; rel="next"'
    return response
