"""R12 satisfaction survey and R16 per-whistle evaluation of each involved department."""
from __future__ import annotations

from engine.registry import HandlerContext, handler
from governance.evaluations import (EvaluationError, record_evaluation, record_survey,
                                    satisfaction_rate)
from governance.models import GRADES

from ._common import actor_of, now_of, whistle_of


@handler("survey.record")
def record(respondents, satisfied, basically_satisfied, dissatisfied, comments: str | None = None,
           ctx: HandlerContext = None) -> dict:
    """→ {satisfaction_rate}: (satisfied + basically satisfied) / respondents × 100, one decimal."""
    whistle = whistle_of(ctx)
    if whistle is None:
        return {"satisfaction_rate": satisfaction_rate(respondents, satisfied, basically_satisfied,
                                                       dissatisfied)}
    row = record_survey(ctx.session, whistle, respondents=respondents, satisfied=satisfied,
                        basically_satisfied=basically_satisfied, dissatisfied=dissatisfied,
                        comments=comments, at=now_of(ctx), actor=actor_of(ctx))
    return {"satisfaction_rate": row.rate}


@handler("evaluation.record")
def evaluate(department_id: str, grade: str, timeliness: str, plan: str, result: str, attitude: str,
             opinion: str | None = None, ctx: HandlerContext = None) -> dict:
    """Store the community's evaluation of `department_id` with that department's facts → {}."""
    for name, value in (("grade", grade), ("timeliness", timeliness), ("plan", plan),
                        ("result", result), ("attitude", attitude)):
        if value not in GRADES:
            raise EvaluationError(f"{name} must be one of {GRADES}, not {value!r}")
    whistle = whistle_of(ctx)
    if whistle is not None:
        record_evaluation(ctx.session, whistle, department_id=department_id, grade=grade,
                          timeliness=timeliness, plan=plan, result=result, attitude=attitude,
                          opinion=opinion, at=now_of(ctx), actor=actor_of(ctx))
    return {}
