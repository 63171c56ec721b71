"""The organisation directory: look-ups over the unit tree and the CSV import.

Tree: city → districts → streets/townships → communities; departments and enterprises hang
under the city or a district.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from .csv_import import CsvImportError, ImportResult, RowError, records
from .models import DEPARTMENT_KINDS, UNIT_KINDS, Unit

CITY_ID = "mas"

# the kinds a unit's parent may have
PARENT_KINDS: dict[str, tuple[str, ...]] = {
    "city": (),
    "district": ("city",),
    "street": ("district",),
    "community": ("street",),
    "department": ("city", "district"),
    "enterprise": ("city", "district"),
}

KIND_NAMES = {"city": "市", "district": "区", "street": "街道/乡镇", "community": "社区",
              "department": "部门", "enterprise": "企事业单位"}

# whistle categories (哨种 / 事项类别) departments declare they serve: the ONE list of intake, street
# review, Open311 services, search and the figures
CATEGORIES: tuple[str, ...] = (
    "安全", "明灯", "助残", "文化", "需求", "市容环境", "交通出行", "水电气", "道路设施",
    "教育", "卫生健康", "社会保障", "市场秩序", "生态环境", "规划建设", "通信", "治安", "其他",
)


def category_choices() -> list[dict]:
    """CATEGORIES as form choices ([{const, title}]): the one list of intake, street review
    (`"x-choices": "categories"` in a form), Open311 services and the figures."""
    return [{"const": c, "title": c} for c in CATEGORIES]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")


class DirectoryError(ValueError):
    """A unit is missing or of the wrong kind."""


# -- look-ups ------------------------------------------------------------------------------

def get_unit(session, unit_id: str | None) -> Unit | None:
    return session.get(Unit, unit_id) if unit_id else None


def require_unit(session, unit_id: str | None, *kinds: str) -> Unit:
    """The unit `unit_id`, which must exist, be active and (if given) be of one of `kinds`."""
    unit = get_unit(session, unit_id)
    if unit is None:
        raise DirectoryError(f"单位不存在：{unit_id}")
    if not unit.active:
        raise DirectoryError(f"单位已停用：{unit_id}")
    if kinds and unit.kind not in kinds:
        raise DirectoryError(f"单位 {unit_id} 的类型是 {unit.kind}，应为 {'/'.join(kinds)}")
    return unit


def children(session, unit_id: str | None, kind: str | None = None, *, active_only: bool = True) -> list[Unit]:
    """Direct children of `unit_id` (roots when None), optionally of one kind, by id."""
    stmt = select(Unit).where(Unit.parent_id == unit_id if unit_id else Unit.parent_id.is_(None))
    if kind:
        stmt = stmt.where(Unit.kind == kind)
    if active_only:
        stmt = stmt.where(Unit.active.is_(True))
    return list(session.scalars(stmt.order_by(Unit.id)))


def units(session, kind: str | None = None, *, active_only: bool = True) -> list[Unit]:
    stmt = select(Unit)
    if kind:
        stmt = stmt.where(Unit.kind == kind)
    if active_only:
        stmt = stmt.where(Unit.active.is_(True))
    return list(session.scalars(stmt.order_by(Unit.id)))


def ancestor_of_kind(session, unit_id: str | None, kind: str) -> Unit | None:
    """The nearest unit of `kind` at or above `unit_id`."""
    unit, seen = get_unit(session, unit_id), set()
    while unit is not None and unit.id not in seen:
        if unit.kind == kind:
            return unit
        seen.add(unit.id)
        unit = get_unit(session, unit.parent_id)
    return None


def street_of(session, community_id: str) -> Unit | None:
    return ancestor_of_kind(session, community_id, "street")


def district_of(session, unit_id: str) -> Unit | None:
    return ancestor_of_kind(session, unit_id, "district")


def locate_community(session, community_id: str) -> dict:
    """{community_id, street_id, district_id, city_id} of an active community."""
    community = require_unit(session, community_id, "community")
    street = street_of(session, community.id)
    district = district_of(session, community.id)
    city = ancestor_of_kind(session, community.id, "city")
    return {"community_id": community.id,
            "street_id": street.id if street else None,
            "district_id": district.id if district else None,
            "city_id": city.id if city else CITY_ID}


def departments(session, parent_id: str | None = None, *, active_only: bool = True) -> list[Unit]:
    """Departments and enterprises, all or those under `parent_id` (the city or a district)."""
    stmt = select(Unit).where(Unit.kind.in_(DEPARTMENT_KINDS))
    if parent_id:
        stmt = stmt.where(Unit.parent_id == parent_id)
    if active_only:
        stmt = stmt.where(Unit.active.is_(True))
    return list(session.scalars(stmt.order_by(Unit.id)))


def departments_for_category(session, category: str, *, parent_id: str | None = None) -> list[Unit]:
    """Departments whose declared categories include `category` (optionally under one parent)."""
    return [u for u in departments(session, parent_id) if category in (u.categories or [])]


def department_level(session, department_id: str) -> str | None:
    """'city' or 'district': where a department hangs."""
    unit = get_unit(session, department_id)
    parent = get_unit(session, unit.parent_id) if unit else None
    return parent.kind if parent is not None else None


def org_unit_id(level: str, district_id: str | None) -> str:
    """The unit of the organisation department of a level: the district, or the city."""
    return district_id if level == "district" and district_id else CITY_ID


def unit_name(session, unit_id: str | None) -> str:
    unit = get_unit(session, unit_id)
    return unit.name if unit else (unit_id or "")


# -- CSV import ----------------------------------------------------------------------------

class DirectoryImportError(CsvImportError):
    """The directory file was refused; `errors` lists every problem by row. Nothing was changed."""


REQUIRED_COLUMNS = ("id", "kind", "name", "parent_id")
_TRUE = {"1", "true", "yes", "y", "是"}
_FALSE = {"0", "false", "no", "n", "否"}


def import_directory_csv(session, source) -> ImportResult:
    """Import units from CSV (columns id, kind, name, parent_id, categories; optional active).

    `source` is a path or a file object (text or bytes). `categories` are separated by '|'.
    Every row is validated first; any error refuses the whole file with row-numbered errors
    (DirectoryImportError). Existing ids are updated (their kind may not change). The caller
    commits.
    """
    errors: list[RowError] = []
    rows: dict[str, tuple[int, dict]] = {}
    for line, values in records(source, REQUIRED_COLUMNS, DirectoryImportError):
        if values is None:
            errors.append(RowError(line, "列数多于表头"))
            continue
        uid, kind, name = values["id"], values["kind"], values["name"]
        row_errors = []
        if not _ID.match(uid):
            row_errors.append(f"编号“{uid}”无效（小写字母、数字和连字符，最长 50 个字符）")
        elif uid in rows:
            row_errors.append(f"编号 {uid} 与第 {rows[uid][0]} 行重复")
        if kind not in UNIT_KINDS:
            row_errors.append(f"类型“{kind}”无效（应为 {'/'.join(UNIT_KINDS)}）")
        if not name:
            row_errors.append("名称不能为空")
        elif len(name) > 200:
            row_errors.append("名称过长（最多 200 个字符）")
        active = values.get("active", "")
        if active and active.lower() not in _TRUE | _FALSE:
            row_errors.append(f"active 值“{active}”无效")
        if row_errors:
            errors.extend(RowError(line, m) for m in row_errors)
            continue
        values["categories"] = [c.strip() for c in values.get("categories", "").split("|") if c.strip()]
        rows[uid] = (line, values)

    existing = {u.id: u for u in session.scalars(select(Unit))}
    kinds = {uid: u.kind for uid, u in existing.items()}
    kinds.update({uid: v["kind"] for uid, (_, v) in rows.items()})
    for uid, (line, values) in rows.items():
        kind, parent = values["kind"], values["parent_id"] or None
        if uid in existing and existing[uid].kind != kind:
            errors.append(RowError(line, f"不能更改已有单位 {uid} 的类型（{existing[uid].kind} → {kind}）"))
        allowed = PARENT_KINDS[kind]
        if parent is None:
            if allowed:
                errors.append(RowError(line, f"{KIND_NAMES[kind]}必须有上级单位"))
        elif not allowed:
            errors.append(RowError(line, "市级单位不能有上级单位"))
        elif parent == uid:
            errors.append(RowError(line, "上级单位不能是自身"))
        elif parent not in kinds:
            errors.append(RowError(line, f"上级单位 {parent} 不存在"))
        elif kinds[parent] not in allowed:
            errors.append(RowError(line, f"{KIND_NAMES[kind]}的上级应为 {'/'.join(KIND_NAMES[k] for k in allowed)}，"
                                         f"而 {parent} 是{KIND_NAMES.get(kinds[parent], kinds[parent])}"))
    if errors:
        raise DirectoryImportError(sorted(errors, key=lambda e: e.row))

    result = ImportResult()
    # parents before children, so foreign keys hold at every flush
    order = sorted(rows.items(), key=lambda item: UNIT_KINDS.index(item[1][1]["kind"]) if
                   item[1][1]["kind"] not in DEPARTMENT_KINDS else len(UNIT_KINDS))
    for uid, (_, values) in order:
        unit = existing.get(uid)
        if unit is None:
            unit = Unit(id=uid, kind=values["kind"], is_sample=False)
            session.add(unit)
            result.created.append(uid)
        else:
            result.updated.append(uid)
        unit.name = values["name"]
        unit.parent_id = values["parent_id"] or None
        unit.categories = values["categories"]
        active = values.get("active", "")
        unit.active = active.lower() not in _FALSE if active else True
        session.flush()
    return result
