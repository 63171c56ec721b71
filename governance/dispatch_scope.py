"""R5/R6: which departments an organisation department may dispatch to.

A district organisation department dispatches only to its own district's departments and units
(R5); city departments and units are dispatched only by the city organisation department, after
escalation (R6). An org department's task form therefore lists only the departments of its level,
and a submission naming another one is refused as a field error (nothing changes):

    allowed = dispatchable_ids(session, "district_org", "hs")     # {'hs-cgj', 'hs-zjj', ...}
    schema = scope_form(session, schema, task.role, task.unit_id)  # narrows x-directory fields
"""
from __future__ import annotations

import copy

from .directory import CITY_ID, departments

ORG_ROLES = ("district_org", "city_org")
SCOPE_NOTE = {
    "district_org": "仅列出本区的区直部门和企事业单位（R5）；市直部门须经区委相关会议研究、上报市委组织部后由其派单（R6）。",
    "city_org": "仅列出市直部门和企事业单位（R6）。",
}
SCOPE_NOTE_EN = {
    "district_org": "Only this district's departments and units are listed (R5); city departments are dispatched "
                    "by the city organisation department after escalation (R6).",
    "city_org": "Only city departments and units are listed (R6).",
}


def dispatch_parent(role: str | None, unit_id: str | None, level: str | None = None) -> str | None:
    """The directory unit whose departments an org department of `role` (or dispatch `level`)
    and unit may dispatch to: the district itself, or the city. None for other roles, and for a
    district org department whose district is unknown."""
    if role == "city_org" or (role is None and level == "city"):
        return CITY_ID
    if role == "district_org" or (role is None and level == "district"):
        return unit_id or None
    return None


def dispatchable(session, role: str | None, unit_id: str | None, level: str | None = None) -> list:
    """The active departments and units (Unit rows) that may be dispatched to (see dispatch_parent)."""
    parent = dispatch_parent(role, unit_id, level)
    return departments(session, parent) if parent else []


def dispatchable_ids(session, role: str | None, unit_id: str | None, level: str | None = None) -> set[str]:
    return {u.id for u in dispatchable(session, role, unit_id, level)}


def out_of_scope(session, ids, *, role: str | None = None, unit_id: str | None = None,
                 level: str | None = None) -> list[str]:
    """The ids among `ids` (a str, a list, or None) that the org department may not dispatch to."""
    if ids is None:
        return []
    wanted = [ids] if isinstance(ids, str) else [i for i in ids if isinstance(i, str)]
    allowed = dispatchable_ids(session, role, unit_id, level)
    return [i for i in wanted if i and i not in allowed]


def scope_form(session, schema: dict | None, role: str | None, unit_id: str | None) -> dict | None:
    """For an org department's task (`role` district_org/city_org): every `x-directory: department`
    field (and array item) of the resolved `schema` keeps only the departments of its level, and its
    description says so. Other roles' forms are returned unchanged (the same object)."""
    if schema is None or role not in ORG_ROLES:
        return schema
    schema = copy.deepcopy(schema)
    parent = dispatch_parent(role, unit_id)
    if parent is None:   # a district task without a district: nothing can be offered safely
        allowed: set[str] = set()
    else:
        allowed = {u.id for u in departments(session, parent)}

    def narrow(node: dict) -> None:
        choices = node.get("oneOf")
        if isinstance(choices, list):
            kept = [c for c in choices if not isinstance(c, dict) or c.get("const") in allowed]
        else:   # the directory was empty when resolved: still only this level's departments
            kept = [{"const": i, "title": i} for i in sorted(allowed)]
        if kept:
            node["oneOf"] = kept
        else:   # nothing of this level to offer: every value is refused rather than any accepted
            node.pop("oneOf", None)
            node["not"] = {}

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("x-directory") == "department":
                narrow(node)
            for key, value in node.items():
                if key != "oneOf":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for prop in (schema.get("properties") or {}).values():
        if not isinstance(prop, dict):
            continue
        if prop.get("x-directory") == "department" or (prop.get("items") or {}).get("x-directory") == "department":
            _note(prop, role)
        walk(prop)
    return schema


def _note(prop: dict, role: str) -> None:
    """Append the scope to the field's description (Chinese and English)."""
    for key, notes in (("description", SCOPE_NOTE), ("x-description-en", SCOPE_NOTE_EN)):
        text = prop.get(key)
        prop[key] = f"{text} {notes[role]}" if text else notes[role]
