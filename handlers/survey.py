"""R12 satisfaction survey and R16 per-whistle evaluation of each involved department."""
from __future__ import annotations

from sqlalchemy import select

from engine.registry import HandlerContext, handler
from governance.consultations import normalise_ids
from governance.evaluations import (EvaluationError, record_evaluation, record_survey,
                                    satisfaction_rate)
from governance.models import GRADES, Evaluation
from governance.policy_settings import value as setting
from governance.register import record_event

from ._common import actor_of, now_of, whistle_of


@handler("survey.record")
def record(respondents, satisfied, basically_satisfied, dissatisfied, comments: str | None = None,
           ctx: HandlerContext = None) -> dict:
    """→ {satisfaction_rate, rework_threshold}: the rate is (satisfied + basically satisfied) /
    respondents × 100, one decimal; below the threshold (policy setting `rework_threshold`, a
    local choice read now, R12) the matter goes back for rework (while `rework_limit` allows)."""
    threshold = float(setting(ctx.session if ctx else None, "rework_threshold"))
    whistle = whistle_of(ctx)
    if whistle is None:
        return {"satisfaction_rate": satisfaction_rate(respondents, satisfied, basically_satisfied,
                                                       dissatisfied), "rework_threshold": threshold}
    row = record_survey(ctx.session, whistle, respondents=respondents, satisfied=satisfied,
                        basically_satisfied=basically_satisfied, dissatisfied=dissatisfied,
                        comments=comments, at=now_of(ctx), actor=actor_of(ctx))
    # the community now evaluates each involved department (R16); the survey's reply above is
    # what residents are told at this point
    whistle.stage = "evaluation"
    record_event(ctx.session, whistle, "stage", actor=actor_of(ctx), stage="evaluation", at=now_of(ctx),
                 text="进入“一哨一考核”阶段")
    return {"satisfaction_rate": row.rate, "rework_threshold": threshold}


@handler("evaluation.record")
def evaluate(department_id: str | None = None, grade: str | None = None, timeliness: str | None = None,
             plan: str | None = None, result: str | None = None, attitude: str | None = None,
             opinion: str | None = None, ctx: HandlerContext = None) -> dict:
    """Store the community's evaluation of `department_id` with that department's facts → {}.

    Without `department_id` (the diagram's step after the parallel `evaluate_department`
    tasks) it makes sure every involved department has its evaluation: a department whose
    evaluation the officer's workspace has not stored yet gets one from its grade in
    `department_grades` (the multi-instance output, keyed by the index into
    `involved_department_ids`); the workspace then stores the full form over it (R16)."""
    if department_id is None:
        return _evaluate_round(ctx)
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


def _evaluate_round(ctx) -> dict:
    whistle = whistle_of(ctx)
    if whistle is None:
        return {}
    data = ctx.data or {}
    ids = normalise_ids(data.get("involved_department_ids"))
    grades = data.get("department_grades") or {}
    if isinstance(grades, list):
        grades = dict(enumerate(grades))
    done = set(ctx.session.scalars(select(Evaluation.department_id).where(Evaluation.whistle_id == whistle.id)))
    for key, grade in grades.items():
        index = int(key) if str(key).isdigit() else None
        dept = ids[index] if index is not None and index < len(ids) else str(key)
        if dept in done or grade not in GRADES:
            continue
        record_evaluation(ctx.session, whistle, department_id=dept, grade=grade, timeliness=grade,
                          plan=grade, result=grade, attitude=grade, at=now_of(ctx), actor=actor_of(ctx))
        done.add(dept)
    return {}
