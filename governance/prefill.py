"""What a task's form starts with, and what its officer should know before answering:

- `initial_values`: the street's suggested lead and cooperating departments prefill the org
  department's `propose` form; the intake category (and an earlier review's grading) prefills
  `street_review`.
- `street_suggestion`: the street's grading (category, urgency, complexity, priority) and
  suggested departments, shown beside the `propose` form (the form itself has no grading fields:
  the grading already set the priority and target date through the decision table).
- `proposed_role` / `proposed_roles`: whether a consulted department is proposed as lead or as
  cooperating department (task page and inbox).

All of it is read from the task's own data (the instance data as the task sees it).
"""
from __future__ import annotations

from engine import runtime
from engine.models import InboxTask, Instance

# task -> the fields of its form that start with the value the data already holds
PREFILLED: dict[str, tuple[str, ...]] = {
    "propose": ("lead_department_id", "cooperating_department_ids"),
    "street_review": ("category", "urgency", "complexity", "lead_department_id", "cooperating_department_ids"),
}
SUGGESTION_KEYS = ("category", "urgency", "complexity", "priority", "lead_department_id",
                   "cooperating_department_ids")


def _data(session, task: InboxTask) -> dict:
    instance = session.get(Instance, task.instance_id)
    return runtime.task_data(session, instance, task.id) if instance is not None else {}


def initial_values(session, task: InboxTask, schema: dict | None) -> dict:
    """The values `task`'s form starts with (only fields the form has, only values it accepts)."""
    keys = PREFILLED.get(task.task)
    if not keys or not schema:
        return {}
    props, data = schema.get("properties") or {}, _data(session, task)
    return {k: data[k] for k in keys if k in props and data.get(k) not in (None, "", []) and _accepts(props[k], data[k])}


def _accepts(prop: dict, value) -> bool:
    """A value one of the field's choices (each item, for a list), or any value of an open field."""
    target = prop.get("items") if prop.get("type") == "array" else prop
    values = value if prop.get("type") == "array" else [value]
    if prop.get("type") == "array" and not isinstance(value, list):
        return False
    choices = (target or {}).get("oneOf")
    if not isinstance(choices, list):
        return True
    allowed = {c.get("const") for c in choices if isinstance(c, dict)}
    return all(v in allowed for v in values)


def street_suggestion(session, task: InboxTask) -> dict:
    """For a `propose` task: the street's grading and suggested departments ({} for other tasks)."""
    if task.task != "propose":
        return {}
    data = _data(session, task)
    return {k: data[k] for k in SUGGESTION_KEYS if data.get(k) not in (None, "", [])}


def proposed_role(data: dict) -> str | None:
    """'lead' | 'cooperating' for the department a consultation task is about (None otherwise)."""
    dept = data.get("department_id")
    if not dept:
        return None
    if dept == data.get("lead_department_id"):
        return "lead"
    if dept in (data.get("cooperating_department_ids") or []):
        return "cooperating"
    return None


def proposed_roles(session, items) -> dict[str, str]:
    """{task id: 'lead' | 'cooperating'} of the `consultation_reply` tasks among inbox `items`."""
    out = {}
    for item in items:
        if item.task == "consultation_reply":
            task = session.get(InboxTask, item.id)
            role = proposed_role(_data(session, task)) if task is not None else None
            if role:
                out[item.id] = role
    return out
