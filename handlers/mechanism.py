"""R15: register a standing mechanism (长效机制)."""
from __future__ import annotations

from engine.registry import HandlerContext, handler
from governance.evaluations import register_mechanism
from governance.register import record_stage

from ._common import actor_of, now_of, whistle_of


@handler("mechanism.register")
def register(document_title: str, document_no: str | None = None, text: str | None = None,
             lead_department_id: str | None = None, cooperating_department_ids=None,
             ctx: HandlerContext = None) -> dict:
    """→ {mechanism_id}. The whistle (or the joint matter's whistles) are its sources."""
    data = (ctx.data or {}) if ctx else {}
    whistle = whistle_of(ctx)
    sources = [whistle.id] if whistle is not None else [int(i) for i in data.get("whistle_ids") or []]
    row = register_mechanism(ctx.session, title=document_title, document_no=document_no, text=text,
                             lead_department_id=lead_department_id or data.get("lead_department_id"),
                             cooperating_department_ids=cooperating_department_ids or [],
                             source_whistle_ids=sources,
                             category=whistle.category if whistle is not None else data.get("category"),
                             at=now_of(ctx))
    if whistle is not None:
        record_stage(ctx.session, whistle, "long_term", actor=actor_of(ctx), at=now_of(ctx),
                     text=f"形成长效机制：{row.title}" + (f"（{row.document_no}）" if row.document_no else ""),
                     reply=f"您反映的问题需长期坚持解决，已形成长效机制《{row.title}》。")
    return {"mechanism_id": row.id}
