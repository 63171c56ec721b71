"""The workflow engine: deploy and version BPMN diagrams, run instances inside database
transactions, keep the inbox and timers, record incidents and audit. Knows SpiffWorkflow and
SQLAlchemy; knows no Flask and no whistle."""
from . import clock  # noqa: F401  (installs the clock hook into SpiffWorkflow's timers)
from .errors import (BudgetExceeded, Conflict, DeployProblem, DeployRefused, EngineError,  # noqa: F401
                     FieldError, FormInvalid, InstanceNotActive, NotFound, TaskNotReady)
from .registry import HandlerContext, handler, register_role  # noqa: F401
