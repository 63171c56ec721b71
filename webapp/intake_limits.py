"""How fast one reporter may report: Open311 intake per API key or per officer's token, the web
report form (with its photos) per officer. Limits are Flask-Limiter strings and settings
(`WHISTLE_<NAME>`), not constants:

    OPEN311_KEY_RATE_LIMIT      per residents' platform key   (default 60 per minute;2000 per day)
    OPEN311_OFFICER_RATE_LIMIT  per officer token on Open311  (default 10 per minute;200 per day)
    INTAKE_RATE_LIMIT           per officer on the report form (default 10 per minute;200 per day)

The counts live in the limiter's storage (RATELIMIT_STORAGE_URI; `memory://` counts per process —
point it at a shared store such as redis:// when several workers serve the site).
"""
from __future__ import annotations

import hashlib

from flask import current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from .auth import bearer_user

DEFAULTS = {"OPEN311_KEY_RATE_LIMIT": "60 per minute;2000 per day",
            "OPEN311_OFFICER_RATE_LIMIT": "10 per minute;200 per day",
            "INTAKE_RATE_LIMIT": "10 per minute;200 per day"}


def setting(name: str) -> str:
    return current_app.config.get(name) or DEFAULTS[name]


def _api_key() -> str:
    return str(request.values.get("api_key") or "")


def open311_limit() -> str:
    return setting("OPEN311_KEY_RATE_LIMIT" if _api_key() else "OPEN311_OFFICER_RATE_LIMIT")


def open311_reporter() -> str:
    """Whom an Open311 report counts against: its key (hashed), its officer, else its address."""
    key = _api_key()
    if key:
        return "open311-key:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:24]
    user = bearer_user(request.headers)
    if user is not None:
        return f"officer:{user.username}"
    return f"address:{get_remote_address()}"


def intake_limit() -> str:
    return setting("INTAKE_RATE_LIMIT")


def intake_reporter() -> str:
    """The officer of the report form (the same count whichever browser or worker they use)."""
    if getattr(current_user, "is_authenticated", False):
        return f"officer:{current_user.username}"
    return f"address:{get_remote_address()}"
