"""R15: find standing mechanisms (长效机制) so officers see an existing one before handling a
matter again."""
from __future__ import annotations

from sqlalchemy import String, cast, or_, select

from .calendar import iso
from .directory import unit_name
from .joint import text_similarity
from .models import StandingMechanism, Whistle


def _as_dict(session, m: StandingMechanism, score: float | None = None, reasons=None) -> dict:
    out = {"id": m.id, "title": m.title, "document_no": m.document_no, "category": m.category,
           "lead_department_id": m.lead_department_id,
           "lead_department_name": unit_name(session, m.lead_department_id),
           "cooperating_department_ids": m.cooperating_department_ids or [],
           "source_whistle_ids": m.source_whistle_ids or [], "created_at": iso(m.created_at),
           "text": m.text}
    if score is not None:
        out["score"] = score
        out["reasons"] = reasons or []
    return out


def search_mechanisms(session, q: str | None = None, category: str | None = None,
                      department: str | None = None, *, limit: int = 50) -> list[dict]:
    """Standing mechanisms matching all given criteria: `q` in the title, document number or
    text (case-insensitive substring, or a similar title), `category`, `department` as lead or
    cooperating department. Newest first; with `q`, best match first (`score`)."""
    stmt = select(StandingMechanism)
    if category:
        stmt = stmt.where(StandingMechanism.category == category)
    if department:
        stmt = stmt.where(or_(StandingMechanism.lead_department_id == department,
                              cast(StandingMechanism.cooperating_department_ids, String).like(f'%"{department}"%')))
    rows = list(session.scalars(stmt.order_by(StandingMechanism.id.desc()).limit(2000)))
    q = (q or "").strip()
    if not q:
        return [_as_dict(session, m) for m in rows[:limit]]
    needle = q.lower()
    found = []
    for m in rows:
        hay = " ".join(filter(None, (m.title, m.document_no, m.text))).lower()
        sim = text_similarity(q, m.title)
        if needle in hay:
            found.append((max(1.0, sim), m, ["包含检索词"]))
        elif sim >= 0.3:
            found.append((sim, m, [f"标题相似（{round(sim * 100)}%）"]))
    found.sort(key=lambda t: (-t[0], -t[1].id))
    return [_as_dict(session, m, round(score, 3), reasons) for score, m, reasons in found[:limit]]


def mechanisms_for_whistle(session, whistle: Whistle | int, *, limit: int = 5, min_score: float = 0.35) -> list[dict]:
    """Standing mechanisms an officer should see on this whistle: same category and/or a title
    similar to the whistle's title and description. Score = similarity (+0.3 same category)."""
    if not isinstance(whistle, Whistle):
        whistle = session.get(Whistle, int(whistle))
    if whistle is None:
        return []
    text = f"{whistle.title} {whistle.description or ''}"
    out = []
    for m in session.scalars(select(StandingMechanism).order_by(StandingMechanism.id.desc()).limit(2000)):
        sim = max(text_similarity(whistle.title, m.title), text_similarity(text, f"{m.title} {m.text or ''}"))
        reasons, score = [], sim
        if sim >= 0.2:
            reasons.append(f"标题相似（{round(sim * 100)}%）")
        if whistle.category and m.category == whistle.category:
            score += 0.3
            reasons.append("同一类别")
        if whistle.id in (m.source_whistle_ids or []):
            continue
        score = round(min(score, 1.0), 3)
        if score >= min_score:
            out.append(_as_dict(session, m, score, reasons))
    out.sort(key=lambda d: (-d["score"], -d["id"]))
    return out[:limit]
