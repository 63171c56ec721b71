"""R14: problems common to several communities (共性问题), coordinated as one joint matter.

    candidates = suggest_candidates(session, whistle)               # similar whistles elsewhere
    joint = open_joint_matter(session, [w1.id, w2.id, w3.id], actor="zzb-hs", level="district")
    unlink(session, joint.joint_no, w3.id, actor="zzb-hs", reason="不属同一问题")   # before dispatch only

Opening a joint matter links the whistles (JointLink rows: who linked when), completes each
whistle's `street_review` with decision `join` (it then waits for message
`joint_matter_closed`), and starts process `joint_matter` which runs the call activities
`dispatch` and `handling` once. Its handler `joint.record_order` gives every linked whistle a
task order of its own (so per-whistle facts, evaluations and statistics see the dispatch), and
`joint.close` copies the handling facts to every linked whistle and sends each of them
`joint_matter_closed`; every community then runs its own survey and evaluation (R12, R16).

Nothing here commits; the caller does.
"""
from __future__ import annotations

import difflib
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select, true

from engine.clock import now

from .calendar import iso, to_local
from .directory import CITY_ID, org_unit_id, unit_name
from .consultations import normalise_ids
from .joint_assessment_models import JointLink, JointMatter
from .models import LEVELS, TaskOrder, Whistle
from .notices import notify
from .numbering import area_code, next_value
from .register import record_event, record_stage, row_id

PROCESS_ID = "joint_matter"
CLOSED_MESSAGE = "joint_matter_closed"
UNLINKED_MESSAGE = "joint_matter_unlinked"
CORRELATION_KEY = "joint_matter"
# stages in which a whistle may still be linked (its street review is waiting)
LINKABLE_TASK = "street_review"


class JointError(ValueError):
    """A joint matter cannot be opened, linked or unlinked as asked."""


# -- similarity ------------------------------------------------------------------------------

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def _tokens(text: str | None) -> set[str]:
    """Character bigrams of the CJK text plus whole latin/digit words (no dictionary needed)."""
    text = _PUNCT.sub(" ", (text or "").lower()).strip()
    out: set[str] = set()
    for chunk in text.split():
        if chunk.isascii():
            out.add(chunk)
            continue
        if len(chunk) == 1:
            out.add(chunk)
        out.update(chunk[i:i + 2] for i in range(len(chunk) - 1))
    return out


def text_similarity(a: str | None, b: str | None) -> float:
    """0..1: the larger of the bigram Jaccard index and difflib's ratio of the two texts."""
    a, b = (a or "").strip(), (b or "").strip()
    if not a or not b:
        return 0.0
    ta, tb = _tokens(a), _tokens(b)
    jaccard = len(ta & tb) / len(ta | tb) if ta and tb else 0.0
    ratio = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    return round(max(jaccard, ratio), 3)


def _text_of(w: Whistle) -> str:
    return f"{w.title} {w.description or ''}".strip()


def _seed_whistles(session, whistles) -> list[Whistle]:
    if isinstance(whistles, Whistle):
        return [whistles]
    if isinstance(whistles, int):
        whistles = [whistles]
    out = []
    for item in whistles:
        w = item if isinstance(item, Whistle) else session.get(Whistle, int(item))
        if w is None:
            raise JointError(f"吹哨事项不存在：{item}")
        out.append(w)
    if not out:
        raise JointError("至少需要一条吹哨事项")
    return out


def suggest_candidates(session, whistles, *, limit: int = 20, min_score: float = 0.3,
                       days: int = 180, include_dispatched: bool = False) -> list[dict]:
    """Whistles from OTHER communities that may be the same problem as `whistles` (a Whistle,
    an id or a list of either): same category, same street or district, or similar text.

    Only open whistles not yet in a joint matter (and, unless `include_dispatched`, not yet
    dispatched) reported within `days` of the seeds are considered. Score (0..1) = text
    similarity + 0.25 same category + 0.1 same street (+0.05 same district), capped at 1.
    Returns dicts sorted by score: whistle_id, whistle_no, title, category, community_id,
    community_name, street_id, district_id, stage, created_at, score, reasons."""
    seeds = _seed_whistles(session, whistles)
    seed_ids = {w.id for w in seeds}
    communities = {w.community_id for w in seeds}
    categories = {w.category for w in seeds if w.category}
    streets = {w.street_id for w in seeds if w.street_id}
    districts = {w.district_id for w in seeds if w.district_id}
    newest = max(w.created_at for w in seeds)
    oldest = min(w.created_at for w in seeds)
    near = [Whistle.district_id.in_(districts)] if districts else []
    if categories:
        near.append(Whistle.category.in_(categories))
    stmt = (select(Whistle)
            .where(Whistle.id.not_in(seed_ids), Whistle.community_id.not_in(communities),
                   Whistle.closed_at.is_(None), Whistle.joint_id.is_(None),
                   Whistle.created_at >= oldest - timedelta(days=days),
                   Whistle.created_at <= newest + timedelta(days=days))
            .order_by(Whistle.id.desc()).limit(1000))
    if near:
        stmt = stmt.where(or_(*near))
    if not include_dispatched:
        stmt = stmt.where(Whistle.task_order_no.is_(None))
    out = []
    for c in session.scalars(stmt):
        sim = max(text_similarity(_text_of(s), _text_of(c)) for s in seeds)
        reasons, score = [], sim
        if sim >= 0.2:
            reasons.append(f"内容相似（{round(sim * 100)}%）")
        if c.category and c.category in categories:
            score += 0.25
            reasons.append("同一类别")
        if c.street_id in streets:
            score += 0.1
            reasons.append("同一街道")
        elif c.district_id in districts:
            score += 0.05
            reasons.append("同一城区")
        score = round(min(score, 1.0), 3)
        if score < min_score:
            continue
        out.append({"whistle_id": c.id, "whistle_no": c.whistle_no, "title": c.title,
                    "category": c.category, "community_id": c.community_id,
                    "community_name": unit_name(session, c.community_id), "street_id": c.street_id,
                    "district_id": c.district_id, "stage": c.stage, "created_at": iso(c.created_at),
                    "score": score, "reasons": reasons})
    out.sort(key=lambda d: (-d["score"], d["whistle_id"]))
    return out[:limit]


# -- reading ---------------------------------------------------------------------------------

def get_joint(session, key) -> JointMatter | None:
    """A joint matter by id (int / digit string) or by number ('GX-HS-2026-0001')."""
    if key is None:
        return None
    if isinstance(key, JointMatter):
        return key
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        ident = row_id(key)
        return session.get(JointMatter, ident) if ident is not None else None
    return session.scalar(select(JointMatter).where(JointMatter.joint_no == key))


def _require_joint(session, key) -> JointMatter:
    joint = get_joint(session, key)
    if joint is None:
        raise JointError(f"共性问题不存在：{key}")
    return joint


def active_links(session, joint: JointMatter) -> list[JointLink]:
    return list(session.scalars(select(JointLink).where(JointLink.joint_id == joint.id,
                                                        JointLink.unlinked_at.is_(None))
                                .order_by(JointLink.id)))


def linked_whistles(session, joint) -> list[Whistle]:
    joint = _require_joint(session, joint)
    return [session.get(Whistle, link.whistle_id) for link in active_links(session, joint)]


def joint_record(session, key) -> dict | None:
    """A joint matter as a JSON-able dict with its whistles and the full link history."""
    joint = get_joint(session, key)
    if joint is None:
        return None
    links = list(session.scalars(select(JointLink).where(JointLink.joint_id == joint.id).order_by(JointLink.id)))
    whistles = {w.id: w for w in session.scalars(select(Whistle).where(Whistle.id.in_([l.whistle_id for l in links])))}
    return {
        "id": joint.id, "joint_no": joint.joint_no, "title": joint.title, "description": joint.description,
        "category": joint.category, "level": joint.level, "district_id": joint.district_id,
        "org_unit_id": joint.org_unit_id, "status": joint.status, "instance_id": joint.instance_id,
        "created_by": joint.created_by, "created_at": iso(joint.created_at),
        "task_order_no": joint.task_order_no, "lead_department_id": joint.lead_department_id,
        "cooperating_department_ids": joint.cooperating_department_ids or [],
        "dispatched_at": iso(joint.dispatched_at), "closed_at": iso(joint.closed_at), "outcome": joint.outcome,
        "whistles": [{"whistle_id": w.id, "whistle_no": w.whistle_no, "title": w.title,
                      "community_id": w.community_id, "community_name": unit_name(session, w.community_id),
                      "stage": w.stage, "task_order_no": w.task_order_no}
                     for l in links if l.unlinked_at is None and (w := whistles.get(l.whistle_id))],
        "links": [{"whistle_id": l.whistle_id, "whistle_no": whistles[l.whistle_id].whistle_no if l.whistle_id in whistles else None,
                   "linked_at": iso(l.linked_at), "linked_by": l.linked_by, "note": l.note,
                   "unlinked_at": iso(l.unlinked_at), "unlinked_by": l.unlinked_by,
                   "unlink_reason": l.unlink_reason, "delivered_at": iso(l.delivered_at)} for l in links],
    }


def list_joints(session, *, status: str | None = None, district_id: str | None = None,
                limit: int = 100, offset: int = 0) -> list[JointMatter]:
    stmt = select(JointMatter)
    if status:
        stmt = stmt.where(JointMatter.status == status)
    if district_id:
        stmt = stmt.where(JointMatter.district_id == district_id)
    return list(session.scalars(stmt.order_by(JointMatter.id.desc()).limit(limit).offset(offset)))


def area_condition(role: str, unit_id: str | None):
    """SQL condition on Whistle for an officer's area: a street's or a district's whistles, all
    for the city and administrators."""
    if role == "street":
        return Whistle.street_id == unit_id
    if role == "district_org":
        return Whistle.district_id == unit_id
    return true()


def visible_joints(session, role: str, unit_id: str | None, limit: int = 100) -> list[JointMatter]:
    """The joint matters an officer sees on /joint: all for the city and administrators; those
    linking a whistle of the officer's area (and, for a district, its own) otherwise."""
    if role in ("city_org", "admin"):
        return list_joints(session, limit=limit)
    # ids first: DISTINCT over the whole row would compare its JSON column (PostgreSQL cannot)
    mine = (select(JointLink.joint_id).join(Whistle, Whistle.id == JointLink.whistle_id)
            .where(area_condition(role, unit_id)).scalar_subquery())
    where = JointMatter.id.in_(mine)
    if role == "district_org":
        where = (JointMatter.district_id == unit_id) | where
    return list(session.scalars(select(JointMatter).where(where).order_by(JointMatter.id.desc()).limit(limit)))


# -- linking ---------------------------------------------------------------------------------

def _street_review_task(session, whistle: Whistle):
    from engine.models import InboxTask
    if whistle.instance_id is None:
        return None
    return session.scalar(select(InboxTask).where(InboxTask.instance_id == whistle.instance_id,
                                                  InboxTask.task == LINKABLE_TASK))


def _waiting_message(session, whistle: Whistle, message: str = CLOSED_MESSAGE) -> bool:
    """Is the whistle's instance waiting for `message` (it went down the `join` path)?"""
    from engine import runtime
    from engine.models import Instance
    from SpiffWorkflow.util.task import TaskState
    if whistle.instance_id is None:
        return False
    instance = session.get(Instance, whistle.instance_id)
    if instance is None or instance.status not in runtime.ACTIVE:
        return False
    wf = runtime.load_workflow(session, instance)
    for task in wf.get_tasks(state=TaskState.WAITING):
        event = getattr(task.task_spec, "event_definition", None)
        # a catch event, or an event-based gateway (whose definition lists its catches)
        for definition in [event, *(getattr(event, "event_definitions", None) or [])]:
            if getattr(definition, "name", None) == message:
                return True
    return False


def _check_linkable(session, whistle: Whistle, joint_no: str | None = None) -> str:
    """'review' (its street review is waiting) or 'waiting' (already waits for this joint)."""
    if whistle.closed_at is not None:
        raise JointError(f"{whistle.whistle_no} 已办结，不能并入共性问题")
    if whistle.task_order_no:
        raise JointError(f"{whistle.whistle_no} 已派单，不能并入共性问题")
    if whistle.joint_id and whistle.joint_id != joint_no:
        raise JointError(f"{whistle.whistle_no} 已并入共性问题 {whistle.joint_id}")
    if _street_review_task(session, whistle) is not None:
        return "review"
    if joint_no and whistle.joint_id == joint_no and _waiting_message(session, whistle):
        return "waiting"
    raise JointError(f"{whistle.whistle_no} 不在街道审核阶段，不能并入共性问题（当前：{whistle.stage}）")


def _link(session, joint: JointMatter, whistle: Whistle, *, actor: str | None, note: str | None,
          at: datetime) -> JointLink:
    from engine import runtime
    state = _check_linkable(session, whistle, joint.joint_no)
    link = JointLink(joint_id=joint.id, whistle_id=whistle.id, linked_at=at, linked_by=actor, note=note)
    session.add(link)
    whistle.joint_id = joint.joint_no
    if state == "review":
        task = _street_review_task(session, whistle)
        opinion = note or f"与其他社区反映的问题并入共性问题 {joint.joint_no} 统筹解决（R14）"
        instance = runtime.complete(session, task.id, {"decision": "join", "joint_id": joint.joint_no,
                                                       "opinion": opinion[:2000]}, actor=actor, now=at)
        if instance.status == "incident":
            raise JointError(f"{whistle.whistle_no} 并入失败：{(instance.incident or {}).get('message')}")
    record_stage(session, whistle, "joint", actor=actor, at=at,
                 text=f"并入共性问题 {joint.joint_no}：{joint.title}",
                 reply="您反映的问题与其他社区反映的同类问题一并由组织部协调相关部门统筹解决。")
    session.flush()
    return link


def _joint_no(session, district_id: str | None, level: str, at: datetime) -> str:
    code = "MAS" if level == "city" else area_code(district_id)
    year = to_local(at).year
    return f"GX-{code}-{year}-{next_value(session, f'joint:{code}:{year}'):04d}"


def open_joint_matter(session, whistle_ids, *, actor: str | None, level: str = "district",
                      title: str | None = None, description: str | None = None,
                      category: str | None = None, lead_department_id: str | None = None,
                      cooperating_department_ids=(), completion_period: str = "P3M",
                      note: str | None = None, at: datetime | None = None) -> JointMatter:
    """R14: link whistles from at least two communities into one joint matter and start its
    `joint_matter` instance (dispatch and handling once).

    `level` is the org department that coordinates: 'district' (all whistles in one district)
    or 'city'. Each whistle must wait in its street review (it is completed here with
    decision `join`). `lead_department_id` / `cooperating_department_ids` are suggestions the
    org department sees when it proposes the dispatch."""
    from engine import runtime
    if level not in LEVELS:
        raise JointError(f"level 应为 {'/'.join(LEVELS)}")
    at = at or now()
    whistles = _seed_whistles(session, whistle_ids)
    if len({w.id for w in whistles}) != len(whistles):
        raise JointError("同一吹哨事项重复出现")
    if len({w.community_id for w in whistles}) < 2:
        raise JointError("共性问题须来自至少两个社区（R14）")
    districts = {w.district_id for w in whistles}
    if level == "district" and len(districts) > 1:
        raise JointError("事项涉及多个城区，应由市委组织部统筹（level='city'）")
    for w in whistles:
        _check_linkable(session, w)
    first = whistles[0]
    district_id = first.district_id if level == "district" else (first.district_id if len(districts) == 1 else None)
    _check_suggestions(session, level, district_id, lead_department_id, cooperating_department_ids)
    joint = JointMatter(joint_no=_joint_no(session, district_id, level, at),
                        title=(title or first.title).strip()[:300], description=description or first.description,
                        category=category or first.category, level=level, district_id=district_id,
                        org_unit_id=org_unit_id(level, district_id), status="open", created_by=actor,
                        created_at=at, cooperating_department_ids=[])
    session.add(joint)
    session.flush()
    for w in whistles:
        _link(session, joint, w, actor=actor, note=note, at=at)
    coop = [d for d in normalise_ids(cooperating_department_ids) if d != lead_department_id]
    data = {"joint_id": joint.joint_no, "joint_pk": joint.id, "joint_no": joint.joint_no,
            "title": joint.title, "description": joint.description, "category": joint.category,
            "level": level, "org_unit_id": joint.org_unit_id, "whistle_ids": [w.id for w in whistles],
            "community_ids": list(dict.fromkeys(w.community_id for w in whistles)),
            "community_id": first.community_id, "street_id": first.street_id,
            "district_id": district_id or first.district_id, "city_id": CITY_ID,
            "lead_department_id": lead_department_id, "cooperating_department_ids": coop,
            "completion_period": completion_period or "P3M", "involved_department_ids": []}
    instance = runtime.start(session, PROCESS_ID, data, actor=actor, business_key=joint.joint_no, now=at)
    joint.instance_id = instance.id
    runtime.audit(session, instance.id, "joint_open", actor=actor,
                  detail={"joint_no": joint.joint_no, "whistle_ids": data["whistle_ids"]})
    session.flush()
    return joint


def _check_suggestions(session, level: str, district_id: str | None, lead, cooperating) -> None:
    """R5/R6: the suggested departments are of the coordinating level (the district's own, or the city's)."""
    from .dispatch_scope import out_of_scope
    unit = org_unit_id(level, district_id)
    wrong = out_of_scope(session, [lead, *normalise_ids(cooperating)] if lead else normalise_ids(cooperating),
                         level=level, unit_id=unit)
    if wrong:
        where = "本区的区直部门和企事业单位" if level == "district" else "市直部门和企事业单位"
        raise JointError(f"{level_name(level)}共性问题只能由{where}办理（R5/R6），不能选择："
                         + "、".join(unit_name(session, d) for d in wrong))


def level_name(level: str) -> str:
    return "市级" if level == "city" else "区级"


def link_whistle(session, joint_key, whistle_id, *, actor: str | None, note: str | None = None,
                 at: datetime | None = None) -> JointLink:
    """Add one more whistle to an open (not yet dispatched) joint matter; also used when a
    street chose `join` with this joint number in its own review."""
    joint = _require_joint(session, joint_key)
    if joint.status != "open":
        raise JointError(f"共性问题 {joint.joint_no} 已派单，不能再并入事项")
    whistle = _seed_whistles(session, whistle_id)[0]
    if any(l.whistle_id == whistle.id for l in active_links(session, joint)):
        raise JointError(f"{whistle.whistle_no} 已在共性问题 {joint.joint_no} 中")
    if joint.level == "district" and whistle.district_id != joint.district_id:
        raise JointError("区级共性问题只能并入本区的事项")
    link = _link(session, joint, whistle, actor=actor, note=note, at=at or now())
    _audit_joint(session, joint, "joint_link", actor, {"whistle_id": whistle.id})
    return link


def unlink(session, joint_key, whistle_id, *, actor: str | None, reason: str,
           at: datetime | None = None) -> JointLink:
    """Take a whistle out of a joint matter before dispatch: the link is kept with who/when/why,
    and the whistle goes back to its street review (message `joint_matter_unlinked`)."""
    from engine import runtime
    if not (reason or "").strip():
        raise JointError("请说明移出原因")
    at = at or now()
    joint = _require_joint(session, joint_key)
    if joint.status != "open" or joint.task_order_no:
        raise JointError(f"共性问题 {joint.joint_no} 已派单，不能再移出事项")
    wid = whistle_id.id if isinstance(whistle_id, Whistle) else int(whistle_id)
    link = next((l for l in active_links(session, joint) if l.whistle_id == wid), None)
    if link is None:
        raise JointError(f"事项 {wid} 不在共性问题 {joint.joint_no} 中")
    link.unlinked_at, link.unlinked_by, link.unlink_reason = at, actor, reason.strip()
    whistle = session.get(Whistle, wid)
    whistle.joint_id = None
    if _waiting_message(session, whistle, UNLINKED_MESSAGE):
        runtime.send_message(session, whistle.instance_id, UNLINKED_MESSAGE,
                             {"joint_id": joint.joint_no, "reason": reason.strip()},
                             correlations={CORRELATION_KEY: {"joint_id": joint.joint_no}}, actor=actor, now=at)
    record_stage(session, whistle, "street_review", actor=actor, at=at,
                 text=f"移出共性问题 {joint.joint_no}：{reason.strip()}",
                 reply="您反映的问题不再与其他社区的问题合并办理，已退回街道重新审核。")
    _audit_joint(session, joint, "joint_unlink", actor, {"whistle_id": wid, "reason": reason.strip()})
    session.flush()
    return link


def _audit_joint(session, joint: JointMatter, action: str, actor, detail: dict) -> None:
    from engine import runtime
    if joint.instance_id is not None:
        runtime.audit(session, joint.instance_id, action, actor=actor, detail=detail)


# -- what the joint matter's handlers do -----------------------------------------------------

def joint_of_data(session, data: dict) -> JointMatter | None:
    key = (data or {}).get("joint_pk") or (data or {}).get("joint_id")
    return get_joint(session, key) if key is not None else None


def set_stage(session, joint: JointMatter, stage: str, *, actor=None, at=None, reply=None) -> None:
    """Move every linked whistle to `stage` (R19: its residents see the reply)."""
    for w in linked_whistles(session, joint):
        record_stage(session, w, stage, actor=actor, at=at, reply=reply,
                     text=f"共性问题 {joint.joint_no}：进入“{stage}”阶段")


def record_order(session, joint: JointMatter, *, task_order_no: str, level: str, lead_department_id: str,
                 cooperating_department_ids, dispatched_at, report_due, complete_due,
                 completion_period: str | None = None, actor=None, at=None) -> list[TaskOrder]:
    """After the joint dispatch: every linked whistle gets a task order of its own
    ('<order no>-<n>'), the register shows the dispatch, the departments are told once."""
    from .calendar import parse_datetime
    at = at or now()
    dispatched = parse_datetime(dispatched_at) if dispatched_at else at
    r_due, c_due = parse_datetime(report_due), parse_datetime(complete_due)
    coop = [d for d in normalise_ids(cooperating_department_ids) if d != lead_department_id]
    joint.status, joint.task_order_no, joint.dispatched_at = "dispatched", task_order_no, dispatched
    joint.lead_department_id, joint.cooperating_department_ids, joint.level = lead_department_id, coop, level
    orders = []
    lead_name = unit_name(session, lead_department_id)
    for n, w in enumerate(linked_whistles(session, joint), 1):
        order = TaskOrder(order_no=f"{task_order_no}-{n}", whistle_id=w.id, level=level,
                          lead_department_id=lead_department_id, cooperating_department_ids=coop,
                          completion_period=completion_period, issued_at=dispatched,
                          report_due=r_due, complete_due=c_due)
        session.add(order)
        orders.append(order)
        w.level, w.lead_department_id, w.cooperating_department_ids = level, lead_department_id, coop
        w.task_order_no, w.dispatched_at, w.report_due, w.complete_due = order.order_no, dispatched, r_due, c_due
        w.reported_at = w.completed_at = None
        record_stage(session, w, "handling", actor=actor, at=at,
                     text=f"共性问题 {joint.joint_no} 签发任务单 {task_order_no}：{lead_name}牵头",
                     reply=f"您反映的问题已与其他社区的同类问题一并派单至{lead_name}办理，"
                           f"将于 {iso(c_due)[:10]} 前办结。")
    titles = "、".join(unit_name(session, w.community_id) for w in linked_whistles(session, joint))
    notify(session, lead_department_id, "task_order", at=at,
           text=f"【任务单 {task_order_no}】共性问题“{joint.title}”（{joint.joint_no}，涉及{titles}）由贵单位牵头办理。"
                f"请于 {iso(r_due)[:10]} 前报到，{iso(c_due)[:10]} 前办结。")
    for d in coop:
        notify(session, d, "task_order", at=at,
               text=f"【任务单 {task_order_no}】共性问题“{joint.title}”（{joint.joint_no}）由{lead_name}牵头，请贵单位配合办理。")
    session.flush()
    return orders


def _task_times(session, joint: JointMatter, task: str, since: datetime | None) -> list[datetime]:
    from engine.models import AuditEvent
    stmt = (select(AuditEvent.at).where(AuditEvent.instance_id == joint.instance_id,
                                         AuditEvent.action == "complete", AuditEvent.task == task)
            .order_by(AuditEvent.id))
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    return [t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in session.scalars(stmt)]


def sync_facts(session, joint: JointMatter, data: dict, *, at: datetime | None = None) -> None:
    """Copy the joint handling's facts to every linked whistle and its current task order:
    reported_at (the lead's report for duty), completed_at (its last completion feedback),
    overdue flags (from the deadlines), extensions (R8, R10, R11)."""
    from .calendar import parse_datetime
    from .duty_reports import lead_report
    at = at or now()
    since = joint.dispatched_at
    reports = _task_times(session, joint, "report_for_duty", since)
    completions = _task_times(session, joint, "complete_matter", since)
    reported_at = reports[0] if reports else None
    completed_at = completions[-1] if completions and data.get("outcome") in ("completed", "long_term") else None
    complete_due = parse_datetime(data["complete_due"]) if data.get("complete_due") else None
    extensions = int(data.get("extension_count") or 0)
    for w in linked_whistles(session, joint):
        order = session.scalar(select(TaskOrder).where(TaskOrder.order_no == w.task_order_no))
        if complete_due is not None:
            w.complete_due = complete_due
            if order is not None:
                order.complete_due = complete_due
        lead = lead_report(session, w)   # R8: the lead's own report at this whistle's community
        for obj in filter(None, (w, order)):
            obj.reported_at = lead.reported_at if lead is not None else reported_at
            obj.completed_at = completed_at
            obj.report_overdue = lead.overdue if lead is not None else (
                reported_at is None or (obj.report_due is not None and reported_at > obj.report_due))
            obj.complete_overdue = bool(obj.complete_due is not None and (completed_at or at) > obj.complete_due)
        w.extension_count = extensions


def flag_overdue(session, joint: JointMatter, kind: str, data: dict, *, at: datetime | None = None) -> bool:
    """R8/R10 while the joint matter is handled: every linked whistle is flagged when the joint
    deadline passes, so each community and the org department hear of it then, not at close.
    The linked whistles first take the joint handling's current completion deadline (an extension)."""
    from .calendar import parse_datetime
    from .orders import flag_overdue as flag_whistle
    complete_due = parse_datetime(data["complete_due"]) if data.get("complete_due") else None
    flagged = False
    for w in linked_whistles(session, joint):
        if complete_due is not None and w.complete_due != complete_due:
            w.complete_due = complete_due
            order = session.scalar(select(TaskOrder).where(TaskOrder.order_no == w.task_order_no))
            if order is not None:
                order.complete_due = complete_due
        flagged = flag_whistle(session, w, kind, at=at) or flagged
    return flagged


def close(session, joint: JointMatter, data: dict, *, actor=None, at=None) -> dict:
    """End of the joint handling: sync the facts, then send `joint_matter_closed` to every linked
    whistle that waits for it (the others get it from `deliver_pending` once they wait)."""
    at = at or now()
    sync_facts(session, joint, data, at=at)
    joint.status, joint.closed_at, joint.outcome = "closed", at, data.get("outcome")
    session.flush()
    return {"delivered": deliver_pending(session, joint, data, actor=actor, at=at)}


def closed_payload(joint: JointMatter, data: dict | None = None) -> dict:
    data = data or {}
    involved = normalise_ids(data.get("involved_department_ids") or [])
    if not involved and joint.lead_department_id:
        involved = [joint.lead_department_id, *(joint.cooperating_department_ids or [])]
    return {"joint_id": joint.joint_no, "involved_department_ids": involved,
            "task_order_no": joint.task_order_no, "outcome": data.get("outcome") or joint.outcome,
            "result": data.get("result"), "reply": data.get("reply")}


def deliver_pending(session, joint, data: dict | None = None, *, actor=None, at=None) -> int:
    """Send `joint_matter_closed` to linked whistles that wait for it and have not had it."""
    from engine import runtime
    joint = _require_joint(session, joint)
    if joint.status != "closed":
        return 0
    at = at or now()
    payload = closed_payload(joint, data)
    sent = 0
    for link in active_links(session, joint):
        if link.delivered_at is not None:
            continue
        whistle = session.get(Whistle, link.whistle_id)
        if not _waiting_message(session, whistle):
            continue
        runtime.send_message(session, whistle.instance_id, CLOSED_MESSAGE, dict(payload),
                             correlations={CORRELATION_KEY: {"joint_id": joint.joint_no}}, actor=actor, now=at)
        link.delivered_at = at
        record_event(session, whistle, "joint_closed", actor=actor, stage=whistle.stage, at=at,
                     text=f"共性问题 {joint.joint_no} 办理完毕，转入本社区满意度测评和评价")
        sent += 1
    session.flush()
    return sent


# -- cancelling: the linked whistles are released --------------------------------------------

CANCELLED = "cancelled"


def joint_of_instance(session, instance_id: int | None) -> JointMatter | None:
    """The joint matter whose `joint_matter` instance is `instance_id` (None for other instances)."""
    if instance_id is None:
        return None
    return session.scalar(select(JointMatter).where(JointMatter.instance_id == instance_id))


def cancel(session, joint_key, *, actor: str | None, reason: str, at: datetime | None = None) -> list[int]:
    """Cancel a joint matter that is not closed: its instance ends (its tasks leave every inbox) and
    every linked whistle is released back to its street with the reason (R14: nothing waits for
    ever). The caller checks who may do it. Returns the ids of the whistles released."""
    from engine import admin
    from engine.errors import EngineError
    if not (reason or "").strip():
        raise JointError("请说明撤销原因")
    at = at or now()
    joint = _require_joint(session, joint_key)
    if joint.status in ("closed", CANCELLED):
        raise JointError(f"共性问题 {joint.joint_no} 已{'办结' if joint.status == 'closed' else '撤销'}，不能撤销")
    if joint.instance_id is not None:
        from engine.models import Instance
        instance = session.get(Instance, joint.instance_id)
        if instance is not None and instance.status not in admin.ENDED:
            try:
                admin.cancel(session, instance.id, reason=reason.strip(), actor=actor)
            except EngineError as exc:
                raise JointError(f"共性问题 {joint.joint_no} 的流程不能取消：{exc}") from exc
    return release(session, joint, actor=actor, reason=reason, at=at)


def release(session, joint: JointMatter, *, actor: str | None, reason: str, at: datetime | None = None) -> list[int]:
    """Mark a joint matter cancelled and send each linked whistle back to its street review
    (message `joint_matter_unlinked`, the reason on its timeline, its street notified). The task
    orders of the joint dispatch stay on record; the whistle no longer counts as dispatched.
    Returns the ids of the whistles released."""
    from engine import runtime
    at = at or now()
    reason = (reason or "").strip() or "共性问题已撤销"
    joint.status, joint.closed_at, joint.outcome = CANCELLED, at, None
    released = []
    for link in active_links(session, joint):
        whistle = session.get(Whistle, link.whistle_id)
        link.unlinked_at, link.unlinked_by = at, actor
        link.unlink_reason = f"共性问题撤销：{reason}"
        if whistle is None or whistle.closed_at is not None:
            continue
        whistle.joint_id = None
        if whistle.task_order_no and whistle.task_order_no.startswith(f"{joint.task_order_no}-"):
            whistle.task_order_no = whistle.dispatched_at = whistle.report_due = whistle.complete_due = None
            whistle.lead_department_id, whistle.cooperating_department_ids = None, []
        if _waiting_message(session, whistle, UNLINKED_MESSAGE):
            runtime.send_message(session, whistle.instance_id, UNLINKED_MESSAGE,
                                 {"joint_id": joint.joint_no, "reason": link.unlink_reason},
                                 correlations={CORRELATION_KEY: {"joint_id": joint.joint_no}}, actor=actor, now=at)
        record_stage(session, whistle, "street_review", actor=actor, at=at,
                     text=f"共性问题 {joint.joint_no} 已撤销：{reason}。事项退回街道重新审核。",
                     reply="您反映的问题不再与其他社区的问题合并办理，已退回街道重新审核。")
        if whistle.street_id:
            notify(session, whistle.street_id, "joint_cancelled", at=at, whistle_id=whistle.id,
                   text=f"共性问题 {joint.joint_no}“{joint.title}”已撤销（{reason}），"
                        f"事项 {whistle.whistle_no} 退回街道审核，请重新审核。")
        released.append(whistle.id)
    _audit_joint(session, joint, "joint_cancel", actor, {"reason": reason, "released_whistle_ids": released})
    session.flush()
    return released


# -- repair of joint matters started before their tasks named the org department --------------

def orphan_tasks(session) -> list:
    """Ready tasks of open joint matters that no officer's inbox can show: no unit, or a unit
    that no active officer of the task's role belongs to."""
    from engine.models import InboxTask, Instance
    from .models import Officer
    officer_exists = (select(Officer.id).where(Officer.role == InboxTask.role, Officer.unit_id == InboxTask.unit_id,
                                               Officer.active.is_(True)).correlate(InboxTask).exists())
    stmt = (select(InboxTask).join(Instance, Instance.id == InboxTask.instance_id)
            .join(JointMatter, JointMatter.instance_id == Instance.id)
            .where(Instance.process_id == PROCESS_ID, Instance.status.in_(("running", "waiting", "suspended")),
                   ~officer_exists)
            .order_by(InboxTask.instance_id, InboxTask.id))
    return list(session.scalars(stmt))


def repair(session, *, actor: str | None = "system", at: datetime | None = None) -> dict:
    """Make every task of a joint matter reach its unit, and release the whistles of joint matters
    whose instance was cancelled: the instance data gets `org_unit_id` (the org department of its
    current level) through an audited suspend / edit / resume; a joint matter whose instance was
    cancelled (e.g. by an administrator) releases its whistles. → {repaired: [joint_no], released: [joint_no]}."""
    from engine import admin, runtime
    from engine.models import Instance
    at = at or now()
    repaired, released = [], []
    for instance_id in dict.fromkeys(t.instance_id for t in orphan_tasks(session)):
        joint = joint_of_instance(session, instance_id)
        instance = session.get(Instance, instance_id)
        data = runtime.instance_data(session, instance)
        level = data.get("level") if data.get("level") in LEVELS else joint.level
        unit = org_unit_id(level, data.get("district_id") or joint.district_id)
        if data.get("org_unit_id") == unit:
            continue   # its unit is known; the unit has no officer yet (a directory matter)
        why = f"R14：共性问题 {joint.joint_no} 的组织部任务须由{unit_name(session, unit)}办理（补全 org_unit_id）"
        was_suspended = instance.status == "suspended"
        if not was_suspended:
            admin.suspend(session, instance_id, reason=why, actor=actor)
        admin.edit_data(session, instance_id, {"org_unit_id": unit}, reason=why, actor=actor)
        if not was_suspended:
            admin.resume(session, instance_id, reason=why, actor=actor)
        repaired.append(joint.joint_no)
    stmt = (select(JointMatter).join(Instance, Instance.id == JointMatter.instance_id)
            .where(JointMatter.status.in_(("open", "dispatched")), Instance.status == "cancelled"))
    for joint in list(session.scalars(stmt)):
        release(session, joint, actor=actor, reason="共性问题的流程已被取消", at=at)
        released.append(joint.joint_no)
    session.flush()
    return {"repaired": repaired, "released": released}
