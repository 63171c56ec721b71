"""Gap-tolerant, race-free numbers: whistle numbers and task-order numbers.

A counter row per (kind, prefix, year) is incremented with a single
`INSERT … ON CONFLICT DO UPDATE … RETURNING` in the caller's transaction: two concurrent
transactions serialise on that row, so no two get the same number (unlike max()+1).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .calendar import to_local
from .models import Counter

CITY_CODE = "MAS"


def next_value(session, key: str) -> int:
    """Increment the counter `key` (created at 1) and return its new value."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = (insert(Counter).values(key=key, value=1)
                .on_conflict_do_update(index_elements=[Counter.key],
                                       set_={"value": Counter.value + 1})
                .returning(Counter.value))
        return session.execute(stmt).scalar_one()
    row = session.execute(select(Counter).where(Counter.key == key).with_for_update()).scalar_one_or_none()
    if row is None:
        row = Counter(key=key, value=0)
        session.add(row)
    row.value += 1
    session.flush()
    return row.value


def area_code(unit_id: str | None) -> str:
    """The code printed in numbers: the district unit id upper-cased ('hs' → 'HS'), or MAS."""
    if not unit_id or unit_id == "mas":
        return CITY_CODE
    return unit_id.replace("-", "").upper()


def whistle_no(session, district_id: str | None, at: datetime) -> str:
    """'HS-2026-000123': district code, year (Asia/Shanghai), six-digit sequence per district and year."""
    code, year = area_code(district_id), to_local(at).year
    return f"{code}-{year}-{next_value(session, f'whistle:{code}:{year}'):06d}"


def task_order_no(session, level: str, district_id: str | None, at: datetime) -> str:
    """'RWD-HS-2026-0001' for a district order, 'RWD-MAS-2026-0001' for a city order."""
    code = CITY_CODE if level == "city" else area_code(district_id)
    year = to_local(at).year
    return f"RWD-{code}-{year}-{next_value(session, f'order:{code}:{year}'):04d}"
