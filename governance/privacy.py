"""Residents' personal data (China's Personal Information Protection Law): shown only to those
who act on it, masked for everyone else, every read of a reporter's details logged.

    may_see_reporter(officer, whistle)   the community and the street handling it, administrators
    mask("电话13912345678")               -> "电话139******78" (mobile, landline and ID numbers)
    reporter_for(session, officer, whistle, via="page")
                                         the reporter for those who may see it (an audit row is
                                         appended in the caller's write transaction), else None
    record_for(record, officer)          a whistle_record() dict as `officer` may read it
    new_public_id()                      the random id under which residents' platforms read a whistle
"""
from __future__ import annotations

import re
import secrets

from engine.runtime import audit

# who may read the reporter's name and phone (and the unmasked free text): the handling units
REPORTER_ROLES = {"community": "community_id", "street": "street_id"}
READ_REPORTER = "read_reporter"   # the audit action

# Chinese mobile numbers (optionally +86, with spaces or dashes), landlines with an area code,
# resident identity card numbers (18 digits, the last may be X; the old 15-digit form)
_PATTERNS = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"\d{17}[\dXx]|\d{15}"                                 # identity card numbers
    r"|(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}"         # mobile
    r"|0\d{2,3}[- ]?\d{7,8}"                               # landline with area code
    r")(?![0-9A-Za-z])")
KEEP_HEAD, KEEP_TAIL = 3, 2


def _hide(match: re.Match) -> str:
    text = match.group(0)
    digits = [i for i, c in enumerate(text) if c.isalnum()]
    keep = set(digits[:KEEP_HEAD] + digits[-KEEP_TAIL:])
    return "".join(c if (i in keep or not c.isalnum()) else "*" for i, c in enumerate(text))


def mask(text):
    """`text` with every phone and identity card number masked (None and non-strings unchanged)."""
    if not isinstance(text, str) or not text:
        return text
    return _PATTERNS.sub(_hide, text)


def may_see_reporter(officer, whistle) -> bool:
    """The community and the street handling `whistle`, and administrators."""
    if officer is None or not getattr(officer, "role", None):
        return False
    if officer.role == "admin":
        return True
    field = REPORTER_ROLES.get(officer.role)
    return bool(field and officer.unit_id and getattr(whistle, field, None) == officer.unit_id)


def log_reporter_read(session, officer, whistle, *, via: str) -> None:
    """An audit row: who read the reporter of which whistle, when (the engine clock), and how.
    Kept apart from the instance's trail (no instance id) so it never shows in the whistle's timeline."""
    audit(session, None, READ_REPORTER, actor=officer.username,
          detail={"whistle_id": whistle.id, "whistle_no": whistle.whistle_no, "via": via})


def reporter_for(session, officer, whistle, *, via: str):
    """The reporter's details if `officer` may see them (and there are any), logged; else None.
    `session` must be a write transaction."""
    if not whistle.reporter or not may_see_reporter(officer, whistle):
        return None
    log_reporter_read(session, officer, whistle, via=via)
    return whistle.reporter


def visible_text(officer, whistle, text):
    """Free text of `whistle` as `officer` may read it: as typed for the handling units, else masked."""
    return text if may_see_reporter(officer, whistle) else mask(text)


def record_for(record: dict, officer, whistle) -> dict:
    """A whistle_record() dict without the reporter and with masked free text, unless `officer`
    may see the reporter (the caller logs that read with `log_reporter_read`)."""
    if may_see_reporter(officer, whistle):
        return record
    out = dict(record, reporter=None, title=mask(record.get("title")), description=mask(record.get("description")))
    out["timeline"] = [dict(e, text=mask(e.get("text")), reply=mask(e.get("reply"))) if isinstance(e, dict) else e
                       for e in record.get("timeline") or []]
    return out


PUBLIC_ID_BYTES = 12   # 96 random bits: 16 URL-safe characters


def new_public_id() -> str:
    """A fresh random id for residents' platforms (never derived from the whistle number)."""
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)
