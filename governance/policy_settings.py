"""The numbers the policy leaves open (local choices, 地方自定), kept as versioned settings.

The article sets only one week to report (R8) and one quarter to finish (R10). Everything else
numeric is chosen locally: how long each step before dispatch may take (R19, 短平快), the
consultation reply window (R7), the day of the quarterly joint meeting (R3), the satisfaction
rate below which a matter is reworked (R12), the time of day at which every deadline ends.

Every save stores all values as a new version with who, when and why (`save`); nothing is
edited in place. A handler reads the version current when it runs (`current` / `value`): a
change applies to deadlines computed afterwards, never to those already set. Without any saved
version the defaults below apply (version 0). (The assessment weights and grade thresholds are
versioned settings of their own, in governance.assessment.)

Defaults, all local choices documented here: triage 1 working day, street coordination 3,
street review 3, proposal 3, confirmation 2; consultation replies 3 working days; the joint
meeting on the 15th of the quarter's first month at 09:00; rework below 60 % satisfied; every
deadline ends at 17:30 Asia/Shanghai.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import func, select

from engine.clock import now

from .calendar import iso
from .models import PolicySettingsVersion

MAX_NOTE = 500


@dataclass(frozen=True)
class Setting:
    key: str
    kind: str            # 'days' (whole working days), 'int', 'percent', 'time' (HH:MM)
    default: object
    low: float | None = None
    high: float | None = None
    group: str = ""


# working days each step before dispatch may take (R19), by the user task it bounds
STEP_SETTINGS = {"triage": "triage_days", "street_coordinate": "street_coordinate_days",
                 "street_review": "street_review_days", "propose": "propose_days",
                 "confirm_dispatch": "confirm_dispatch_days"}

SETTINGS: tuple[Setting, ...] = (
    Setting("triage_days", "days", 1, 1, 30, "steps"),
    Setting("street_coordinate_days", "days", 3, 1, 30, "steps"),
    Setting("street_review_days", "days", 3, 1, 30, "steps"),
    Setting("propose_days", "days", 3, 1, 30, "steps"),
    Setting("confirm_dispatch_days", "days", 2, 1, 30, "steps"),
    Setting("consultation_reply_days", "days", 3, 1, 30, "consultation"),
    Setting("joint_meeting_day", "int", 15, 1, 28, "meeting"),
    Setting("joint_meeting_time", "time", "09:00", group="meeting"),
    Setting("rework_threshold", "percent", 60.0, 0, 100, "survey"),
    Setting("end_of_day", "time", "17:30", group="deadlines"),
)
BY_KEY = {s.key: s for s in SETTINGS}
DEFAULTS = {s.key: s.default for s in SETTINGS}

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class PolicySettingsError(ValueError):
    """Values refused; `errors` maps each setting key to (code, params): codes 'required',
    'number', 'whole', 'range' (low, high), 'time', 'unknown', 'note_long' (limit). Nothing
    was stored."""

    def __init__(self, errors: dict[str, tuple[str, dict]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {code} {params or ''}".strip() for k, (code, params) in errors.items()))


# -- values ----------------------------------------------------------------------------------

def parse_value(setting: Setting, raw):
    """The typed value of `raw` (a form string or a value) for `setting`, or PolicySettingsError."""
    def refuse(code, **params):
        raise PolicySettingsError({setting.key: (code, params)})

    if raw is None or (isinstance(raw, str) and not raw.strip()):
        refuse("required")
    if setting.kind == "time":
        text = raw.strftime("%H:%M") if isinstance(raw, time) else str(raw).strip()
        match = _TIME.match(text)
        if not match:
            refuse("time")
        return f"{int(match[1]):02d}:{match[2]}"
    if isinstance(raw, bool):
        refuse("number")
    try:
        number = float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)
    except ValueError:
        refuse("number")
    if number != number or number in (float("inf"), float("-inf")):
        refuse("number")
    if setting.kind in ("days", "int"):
        if number != int(number):
            refuse("whole")
        number = int(number)
    if not setting.low <= number <= setting.high:
        refuse("range", low=_plain(setting.low), high=_plain(setting.high))
    return number if setting.kind != "percent" else round(float(number), 1)


def _plain(number):
    return int(number) if float(number).is_integer() else number


def as_time(text: str) -> time:
    """'17:30' → time(17, 30)."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


# -- reading ---------------------------------------------------------------------------------

def _snapshot(row: PolicySettingsVersion | None) -> dict:
    if row is None:
        return {"version": 0, "values": dict(DEFAULTS), "note": None, "created_by": None, "created_at": None}
    values = {**DEFAULTS, **{k: v for k, v in (row.values or {}).items() if k in BY_KEY}}
    return {"version": row.version, "values": values, "note": row.note, "created_by": row.created_by,
            "created_at": iso(row.created_at)}


def current(session) -> dict:
    """The current version: {version, values {key: value}, note, created_by, created_at}
    (version 0 with the defaults when none was saved, or without a session)."""
    if session is None:
        return _snapshot(None)
    row = session.scalar(select(PolicySettingsVersion).order_by(PolicySettingsVersion.version.desc()).limit(1))
    return _snapshot(row)


def value(session, key: str):
    """The current value of one setting (its default without a session)."""
    if key not in BY_KEY:
        raise KeyError(key)
    return current(session)["values"][key]


def end_of_day(session) -> time:
    """The time of day every deadline ends (Asia/Shanghai)."""
    return as_time(value(session, "end_of_day"))


def step_days(session, step: str) -> int:
    """Working days the pre-dispatch step `step` may take (R19)."""
    if step not in STEP_SETTINGS:
        raise KeyError(step)
    return int(value(session, STEP_SETTINGS[step]))


def history(session) -> list[dict]:
    """Every saved version, oldest first."""
    return [_snapshot(r) for r in session.scalars(select(PolicySettingsVersion)
                                                 .order_by(PolicySettingsVersion.version))]


# -- saving ----------------------------------------------------------------------------------

def save(session, values: dict, *, actor: str | None, note: str | None = None,
         at: datetime | None = None) -> dict:
    """Store a new version: `values` (form strings or values) replace those of the current
    version; keys left out keep their current value. Every value is checked first; any error
    refuses the whole save (PolicySettingsError, nothing stored). Returns the new version."""
    errors: dict[str, tuple[str, dict]] = {}
    merged = dict(current(session)["values"])
    for key, raw in (values or {}).items():
        setting = BY_KEY.get(key)
        if setting is None:
            errors[key] = ("unknown", {})
            continue
        try:
            merged[key] = parse_value(setting, raw)
        except PolicySettingsError as exc:
            errors.update(exc.errors)
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        errors["note"] = ("note_long", {"limit": MAX_NOTE})
    if errors:
        raise PolicySettingsError(errors)
    version = (session.scalar(select(func.max(PolicySettingsVersion.version))) or 0) + 1
    row = PolicySettingsVersion(version=version, values=merged, note=note, created_by=actor,
                                created_at=at or now())
    session.add(row)
    session.flush()
    return _snapshot(row)
