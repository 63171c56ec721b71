"""Service-task handlers, one module per concern. `import handlers` registers them all (and the
assignment roles) with the engine's registry."""
import governance.roles  # noqa: F401  (declares the roles to the engine)

from . import case, consultation, deadlines, dispatch, escalation, mechanism, survey  # noqa: F401
