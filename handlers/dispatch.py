"""R5, R6, R8, R10, R13: issue the task order (任务单)."""
from __future__ import annotations

from engine.registry import HandlerContext, handler
from governance.calendar import iso
from governance.consultations import normalise_ids
from governance.orders import issue_task_order, order_terms

from ._common import actor_of, now_of, whistle_of


@handler("dispatch.issue_order")
def issue_order(level: str, lead_department_id: str, cooperating_department_ids=None,
                completion_period: str = "P3M", ctx: HandlerContext = None) -> dict:
    """→ {task_order_no, dispatched_at, report_due (+7 days, R8), complete_due (one quarter,
    R10; both at the end of a working day), target_due (the earlier target that
    `completion_period` of the priority table sets, R4, or None), involved_department_ids, and
    the order's level, lead_department_id and cooperating_department_ids (deduplicated, lead
    removed)}.

    `involved_department_ids` (the departments the community evaluates, R16) keeps the ones
    already in the instance data (e.g. the district department of an order escalated to the
    city, R6) and adds this order's lead and co-operators, each once."""
    at = now_of(ctx)
    whistle = whistle_of(ctx)
    if whistle is None:
        t = order_terms(ctx.session, level=level, lead_department_id=lead_department_id,
                        cooperating_department_ids=cooperating_department_ids,
                        completion_period=completion_period,
                        district_id=(ctx.data or {}).get("district_id"), at=at)
        order_no, lead, coop = t.order_no, t.lead_department_id, t.cooperating_department_ids
        dispatched, report, complete, target = t.dispatched_at, t.report_due, t.complete_due, t.target_due
    else:
        o = issue_task_order(ctx.session, whistle, level=level, lead_department_id=lead_department_id,
                             cooperating_department_ids=cooperating_department_ids or [],
                             completion_period=completion_period, at=at, actor=actor_of(ctx))
        order_no, lead, coop = o.order_no, o.lead_department_id, list(o.cooperating_department_ids)
        dispatched, report, complete, target = o.issued_at, o.report_due, o.complete_due, o.target_due
    return {"task_order_no": order_no, "dispatched_at": iso(dispatched), "report_due": iso(report),
            "complete_due": iso(complete), "target_due": iso(target),
            "involved_department_ids": normalise_ids([*normalise_ids((ctx.data or {}).get("involved_department_ids")
                                                                     if ctx else None), lead, *coop]),
            "level": level, "lead_department_id": lead, "cooperating_department_ids": coop}
