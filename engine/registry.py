"""Names the engine accepts in a diagram: service-task handlers and assignment roles.

Handlers are plain functions registered by name::

    @handler("deadline.add")
    def add_deadline(days: int, ctx: HandlerContext) -> dict: ...

They receive the service task's parameters as keyword arguments (plus `ctx` when they declare
it) and return a dict; the engine does the JSON. Roles map a role id to the data key that holds
the unit a task of that role belongs to.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

_handlers: dict[str, Callable[..., dict]] = {}
_takes_ctx: dict[str, bool] = {}
_roles: dict[str, str | None] = {}


@dataclass(frozen=True)
class HandlerContext:
    """What a handler may know about the step it runs in."""
    session: Any            # the SQLAlchemy session of the step's transaction
    instance_id: int
    process_id: str
    task_id: str            # BPMN id of the service task
    now: datetime           # the engine clock
    data: dict              # a copy of the task data (read only)
    actor: str | None


def handler(name: str):
    """Register `fn` as the service-task handler `name`."""
    def register(fn: Callable[..., dict]) -> Callable[..., dict]:
        if name in _handlers and _handlers[name] is not fn:
            raise ValueError(f"handler {name!r} is registered twice")
        _handlers[name] = fn
        _takes_ctx[name] = "ctx" in inspect.signature(fn).parameters
        return fn
    return register


def get_handler(name: str) -> Callable[..., dict] | None:
    return _handlers.get(name)


def handler_takes_ctx(name: str) -> bool:
    return _takes_ctx.get(name, False)


def handler_names() -> list[str]:
    return sorted(_handlers)


def register_role(role: str, unit_key: str | None) -> None:
    """Declare an assignment role and the data key holding its unit (None: not tied to a unit)."""
    _roles[role] = unit_key


def known_roles() -> dict[str, str | None]:
    return dict(_roles)
