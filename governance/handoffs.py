"""Hand-offs officers can follow: who wrote what (by name and unit, never a username), and where
a whistle went after a submission (which tasks wait now, at which units; or closed).

No Flask: the whistle page, the task page, the flash message after a web submission and the
JSON API all read these.
"""
from __future__ import annotations

from sqlalchemy import select

from engine.models import Deployment, InboxTask, Instance

from .directory import unit_name
from .models import Officer, Whistle
from .register import STAGES


# -- who: an officer's name and unit ---------------------------------------------------------------

class People:
    """username -> {"name", "unit_id", "unit_name"}, read once per username (a page's cache)."""

    def __init__(self, session):
        self.session = session
        self._seen: dict[str, dict | None] = {}

    def __call__(self, username: str | None) -> dict | None:
        if not username:
            return None
        if username not in self._seen:
            officer = self.session.scalar(select(Officer).where(Officer.username == username))
            self._seen[username] = None if officer is None else {
                "name": officer.display_name or username, "unit_id": officer.unit_id,
                "unit_name": unit_name(self.session, officer.unit_id) if officer.unit_id else None}
        return self._seen[username]


# -- what: the free texts of a submitted form --------------------------------------------------------

def _is_free_text(prop: dict) -> bool:
    """A string field the officer writes (not a choice, a date, or a unit of the directory)."""
    return (isinstance(prop, dict) and prop.get("type") == "string" and not prop.get("format")
            and "oneOf" not in prop and "enum" not in prop and "x-directory" not in prop and "const" not in prop)


class Forms:
    """BPMN task id -> the free-text fields of its form, from an instance's deployment."""

    def __init__(self, session, instance_id: int | None):
        self.fields: dict[str, list[tuple[str, str, str | None]]] = {}
        instance = session.get(Instance, instance_id) if instance_id else None
        deployment = session.get(Deployment, instance.deployment_id) if instance else None
        if deployment is None:
            return
        schemas = deployment.forms or {}
        for tasks in (deployment.task_meta or {}).values():
            for task_id, meta in tasks.items():
                schema = schemas.get(meta.get("form") or "") or {}
                props = schema.get("properties") or {}
                order = [k for k in schema.get("x-order") or [] if k in props] + \
                        [k for k in props if k not in (schema.get("x-order") or [])]
                self.fields.setdefault(task_id, [(k, props[k].get("title") or k, props[k].get("x-title-en"))
                                                 for k in order if _is_free_text(props[k])])

    def written(self, task_id: str | None, data: dict | None) -> list[dict]:
        """[{field, title, title_en, text}] of what was written in `data` for task `task_id`."""
        if not isinstance(data, dict):
            return []
        return [{"field": k, "title": title, "title_en": title_en, "text": data[k].strip()}
                for k, title, title_en in self.fields.get(task_id or "", [])
                if isinstance(data.get(k), str) and data[k].strip()]


# -- where to: after a submission ----------------------------------------------------------------------

def whereabouts(session, instance_id: int) -> dict:
    """Where the procedure of instance `instance_id` stands now: {closed, stage, stage_name,
    tasks: [{task, name, role, unit_id, unit_name}]}: every task waiting now (who holds it), or
    closed when the instance (for a whistle: the register) has ended."""
    session.flush()
    instance = session.get(Instance, instance_id)
    whistle = session.scalar(select(Whistle).where(Whistle.instance_id == instance_id))
    rows = session.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id)
                           .order_by(InboxTask.created_at, InboxTask.id)).all()
    stage = whistle.stage if whistle is not None else None
    closed = (instance is not None and instance.status == "completed") or stage == "closed"
    return {"closed": bool(closed), "stage": stage, "stage_name": STAGES.get(stage) if stage else None,
            "tasks": [] if closed else [{"task": t.task, "name": t.name, "role": t.role, "unit_id": t.unit_id,
                                         "unit_name": unit_name(session, t.unit_id) if t.unit_id else None}
                                        for t in rows]}
