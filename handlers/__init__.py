"""Service-task handlers, one module per concern. `import handlers` registers them all (and the
assignment roles) with the engine's registry."""
import governance.roles  # noqa: F401  (declares the roles to the engine)

from . import case, consultation, deadlines, dispatch, escalation, mechanism, survey  # noqa: F401
from . import assessment, joint  # noqa: F401,E402  (R14 joint matters, R17/R18 annual assessment)
from . import duty  # noqa: F401,E402  (R8 every department reports, R11/R14 extension agreements)
