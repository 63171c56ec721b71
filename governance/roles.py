"""Role ids, their Chinese names, and the data key that holds each role's unit.

Importing this module declares the roles to the engine (`engine.registry.register_role`), so a
diagram may only name these roles.
"""
from __future__ import annotations

from engine.registry import register_role

ROLES: dict[str, str] = {
    "grid_worker": "网格员",
    "resident": "居民",
    "community": "社区党组织",
    "street": "街道党工委（乡镇党委）",
    "district_org": "区委组织部",
    "city_org": "市委组织部",
    "department": "市、区直部门和企事业单位党组织",
    "policy_staff": "政策/流程管理员",
    "admin": "系统管理员",
}

# role id -> instance-data key naming the unit whose officers do that role's tasks
ROLE_UNIT_KEYS: dict[str, str | None] = {
    "grid_worker": "community_id",
    "resident": None,
    "community": "community_id",
    "street": "street_id",
    "district_org": "district_id",
    "city_org": "city_id",
    "department": "department_id",
    "policy_staff": None,
    "admin": None,
}

# roles an officer account may hold (residents use the public intake, not accounts)
OFFICER_ROLES: tuple[str, ...] = tuple(r for r in ROLES if r != "resident")

# the unit kinds an officer of each role may belong to (None: no unit required)
ROLE_UNIT_KINDS: dict[str, tuple[str, ...] | None] = {
    "grid_worker": ("community",),
    "community": ("community",),
    "street": ("street",),
    "district_org": ("district",),
    "city_org": ("city",),
    "department": ("department", "enterprise"),
    "policy_staff": None,
    "admin": None,
}


def register_roles() -> None:
    """Declare every role to the engine (idempotent)."""
    for role, unit_key in ROLE_UNIT_KEYS.items():
        register_role(role, unit_key)


register_roles()
