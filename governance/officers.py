"""Officer accounts: creation, password check, listing."""
from __future__ import annotations

import re

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .directory import DirectoryError, require_unit
from .models import Officer, Unit
from .roles import OFFICER_ROLES, ROLE_UNIT_KINDS, ROLES

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,79}$")
MIN_PASSWORD = 8
# compared against when the username is unknown, so both paths cost the same time
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class OfficerError(ValueError):
    """An officer cannot be created or changed as asked (`code` names the reason for translation)."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.code = code


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
    """A new password (an administrator's reset or the officer's own change); every session and
    API token of the officer ends. The caller commits."""
    if not password or len(password) < MIN_PASSWORD:
        raise OfficerError(f"密码至少 {MIN_PASSWORD} 位", "too_short")
    officer.password_hash = hash_password(password)
    officer.is_sample = False  # no longer the published demo password
    end_sessions(officer)


def change_own_password(session, officer: Officer, current: str, new: str) -> None:
    """The officer changes their own password, proving the current one. The caller commits."""
    if not check_password_hash(officer.password_hash, current or ""):
        raise OfficerError("当前密码不正确", "wrong_password")
    if new == current:
        raise OfficerError("新密码不能与当前密码相同", "unchanged")
    set_password(session, officer, new)


def end_sessions(officer: Officer) -> None:
    """End every session and API token of the officer (they carry the old session version)."""
    officer.session_version = (officer.session_version or 0) + 1


def demo_officers(session, limit: int = 5) -> tuple[int, list[str]]:
    """(how many, the first `limit` usernames) of the active officers still on the published demo
    password: they exist only in a database made with `whistle init --demo`."""
    where = (Officer.is_sample.is_(True), Officer.active.is_(True))
    count = session.scalar(select(func.count()).select_from(Officer).where(*where)) or 0
    names = list(session.scalars(select(Officer.username).where(*where).order_by(Officer.username).limit(limit)))
    return count, names


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
