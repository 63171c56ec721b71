"""Input that no part of the application can store or parse is refused before any view runs:
NUL bytes and lone surrogates in query parameters, form fields and JSON strings (PostgreSQL and
UTF-8 cannot hold them), JSON nested deeper than `MAX_JSON_DEPTH` (or so deep the parser gives up),
and integer path parameters beyond the database's integer range (no such row: 404).

A refusal is an ordinary 400 (or 404), rendered by the app's error handlers in the format of the
path: the error page, the API's JSON error or an Open311 error array — never a 500.
"""
from __future__ import annotations

import json

from flask import abort, current_app, request

from governance.register import MAX_ROW_ID as MAX_ID   # INTEGER primary keys on PostgreSQL

MAX_JSON_DEPTH = 64          # setting JSON_MAX_DEPTH


def unstorable(text) -> bool:
    """True for text with a NUL byte or a lone surrogate."""
    return isinstance(text, str) and ("\x00" in text or any("\ud800" <= c <= "\udfff" for c in text))


def _depth_and_text_ok(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, str):
            if unstorable(item):
                return False
        elif isinstance(item, dict):
            for key, child in item.items():
                if unstorable(key):
                    return False
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return True


def check_request():
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
            abort(404)
        if isinstance(value, str) and unstorable(value):
            abort(404)
    for key, value in request.args.items(multi=True):
        if unstorable(key) or unstorable(value):
            abort(400)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in request.form.items(multi=True):
                if unstorable(key) or unstorable(value):
                    abort(400)
        elif request.is_json and request.content_length:
            _check_json()


def _check_json():
    limit = current_app.config.get("JSON_MAX_DEPTH") or MAX_JSON_DEPTH
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw)
    except RecursionError:
        abort(400)
    except (ValueError, UnicodeDecodeError):
        return                                  # not JSON at all: the view says so in its own words
    if not _depth_and_text_ok(body, limit):
        abort(400)


def id_arg(name: str) -> int | None:
    """The query parameter `name` as a row id: None when absent or not a number, 404 when beyond
    any id (so `?version=99999999999999999999` finds nothing instead of failing in the database)."""
    value = request.args.get(name, type=int)
    if value is not None and not 0 < value <= MAX_ID:
        abort(404)
    return value


def init_app(app) -> None:
    app.before_request(check_request)
