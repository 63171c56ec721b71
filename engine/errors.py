"""Errors the engine raises. Each carries a stable `code` and a readable English message;
the web layer translates codes into the user's language."""
from __future__ import annotations

from dataclasses import dataclass, field


class EngineError(Exception):
    code = "engine_error"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(EngineError):
    code = "not_found"


class Conflict(EngineError):
    """Someone else changed the instance first; reload and try again."""
    code = "conflict"


class TaskNotReady(Conflict):
    """The task was completed or cancelled already (stale page or double submission)."""
    code = "task_not_ready"


class InstanceNotActive(Conflict):
    """The instance is suspended, failed, completed or cancelled."""
    code = "instance_not_active"


class IncidentRaised(EngineError):
    """A handler or expression failed; the step was rolled back and recorded as an incident."""
    code = "incident"


@dataclass
class FieldError:
    field: str
    message: str
    kind: str = ""                                   # the check that failed (a validator or rule name)
    params: dict = field(default_factory=dict)       # what the web layer needs to say it in the reader's language


class FormInvalid(EngineError):
    code = "form_invalid"

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass
class DeployProblem:
    message: str
    element: str | None = None
    line: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p)
        head = " ".join(p for p in (where, f"[{self.element}]" if self.element else "") if p)
        return f"{head} {self.message}".strip()

    def as_dict(self) -> dict:
        return {"file": self.file, "element": self.element, "line": self.line, "message": self.message}


class DeployRefused(EngineError):
    code = "deploy_refused"

    def __init__(self, problems: list[DeployProblem]):
        super().__init__(f"deployment refused: {len(problems)} problem(s)")
        self.problems = problems


class BudgetExceeded(EngineError):
    code = "budget_exceeded"


@dataclass
class HandlerFailure(Exception):
    """Raised from a service task when its handler fails."""
    handler: str
    message: str
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"handler {self.handler!r} failed: {self.message}"
