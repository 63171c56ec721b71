"""Officer accounts: creation, password check, listing."""
from __future__ import annotations

import re

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .directory import DirectoryError, require_unit
from .models import Officer, Unit
from .roles import OFFICER_ROLES, ROLE_UNIT_KINDS, ROLES

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,79}$")
MIN_PASSWORD = 8
# compared against when the username is unknown, so both paths cost the same time
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class OfficerError(ValueError):
    """An officer cannot be created or changed as asked."""


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def create_officer(session, *, username: str, password: str | None = None, display_name: str,
                   role: str, unit_id: str | None = None, phone: str | None = None,
                   password_hash: str | None = None, active: bool = True) -> Officer:
    """Create an officer of `role` in `unit_id` (checked against the role's unit kinds).

    Give `password` (at least 8 characters) or a ready `password_hash`. The caller commits.
    """
    if not _USERNAME.match(username or ""):
        raise OfficerError(f"用户名“{username}”无效（字母、数字、._-，2–80 个字符）")
    if role not in OFFICER_ROLES:
        raise OfficerError(f"角色“{role}”无效")
    if session.scalar(select(Officer.id).where(Officer.username == username)) is not None:
        raise OfficerError(f"用户名 {username} 已存在")
    kinds = ROLE_UNIT_KINDS[role]
    if kinds:
        try:
            require_unit(session, unit_id, *kinds)
        except DirectoryError as exc:
            raise OfficerError(f"{ROLES[role]}必须属于{'/'.join(kinds)}类单位：{exc}") from exc
    elif unit_id:
        require_unit(session, unit_id)
    if password_hash is None:
        if not password or len(password) < MIN_PASSWORD:
            raise OfficerError(f"密码至少 {MIN_PASSWORD} 位")
        password_hash = hash_password(password)
    officer = Officer(username=username, display_name=display_name or username,
                      password_hash=password_hash, role=role, unit_id=unit_id, phone=phone,
                      active=active)
    session.add(officer)
    session.flush()
    return officer


def get_officer(session, username: str) -> Officer | None:
    return session.scalar(select(Officer).where(Officer.username == username))


def authenticate(session, username: str, password: str) -> Officer | None:
    """The active officer with this username and password, else None."""
    officer = get_officer(session, username or "")
    if officer is None or not officer.active:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    return officer if check_password_hash(officer.password_hash, password or "") else None


def set_password(session, officer: Officer, password: str) -> None:
    if not password or len(password) < MIN_PASSWORD:
        raise OfficerError(f"密码至少 {MIN_PASSWORD} 位")
    officer.password_hash = hash_password(password)
    officer.is_sample = False  # no longer the published demo password


def list_users(session, *, role: str | None = None, unit_id: str | None = None) -> list[dict]:
    """Every officer as {id, username, display_name, role, role_name, unit_id, unit_name, phone, active};
    demo officers still on the published demo password also carry `password`."""
    from .demo import DEMO_PASSWORD
    stmt = select(Officer, Unit.name).outerjoin(Unit, Unit.id == Officer.unit_id)
    if role:
        stmt = stmt.where(Officer.role == role)
    if unit_id:
        stmt = stmt.where(Officer.unit_id == unit_id)
    return [{"id": o.id, "username": o.username, "display_name": o.display_name, "role": o.role,
             "role_name": ROLES.get(o.role, o.role), "unit_id": o.unit_id, "unit_name": name,
             "phone": o.phone, "active": o.active, **({"password": DEMO_PASSWORD} if o.is_sample else {})}
            for o, name in session.execute(stmt.order_by(Officer.username))]
