"""Logging in and out (session cookie), the signed API tokens, and who is asking.

Sessions and API tokens carry the officer's session version: logout, a password change and an
administrator's password reset raise it, which ends every session and token of that officer.
Failed logins are counted in the database per account and per client address
(governance.login_limits), so the limits hold across workers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from engine.clock import now
from governance import login_limits
from governance.models import Officer
from governance.officers import MIN_PASSWORD, OfficerError, authenticate, change_own_password, end_sessions

from .db import factory, write
from .extensions import limiter, login_manager

bp = Blueprint("auth", __name__)


@dataclass
class User:
    """The logged-in officer, detached from any database session."""
    id: int
    username: str
    display_name: str
    role: str
    unit_id: str | None
    unit_name: str | None
    active: bool = True
    session_version: int = 0

    # Flask-Login protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """What the session stores: the officer and the session version it was opened under."""
        return f"{self.id}:{self.session_version}"

    @classmethod
    def of(cls, officer: Officer) -> "User":
        return cls(id=officer.id, username=officer.username, display_name=officer.display_name,
                   role=officer.role, unit_id=officer.unit_id,
                   unit_name=officer.unit.name if officer.unit is not None else None, active=officer.active,
                   session_version=officer.session_version or 0)


def load_user_by_id(user_id, session_version=None) -> User | None:
    """The active officer `user_id`; None as well when `session_version` is given and is no longer
    the officer's (the session or token was ended)."""
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    with factory()() as session:
        officer = session.get(Officer, key)
        if officer is None or not officer.active:
            return None
        user = User.of(officer)
    if session_version is not None and session_version != user.session_version:
        return None
    return user


@login_manager.user_loader
def _load_user(session_id):
    officer_id, _sep, version = str(session_id).partition(":")
    if not version.isdigit():
        return None  # a session from before session versions: log in again
    return load_user_by_id(officer_id, int(version))


def roles_required(*roles):
    """The view needs one of `roles` (admins always pass)."""
    def decorator(fn):
        @wraps(fn)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles and current_user.role != "admin":
                abort(403)
            return fn(*args, **kwargs)
        return wrapper
    return decorator


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("inbox.index")


class LoginRefused(Exception):
    """Too many failed logins for this account or from this address: refused until `until`."""

    def __init__(self, until: datetime):
        super().__init__(until.isoformat())
        self.until = until

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil((self.until - now()).total_seconds()))

    def message(self) -> str:
        return _("尝试次数过多，请于 %(minutes)d 分钟后再试。", minutes=math.ceil(self.retry_after / 60))


def _limits() -> tuple[login_limits.Limit, login_limits.Limit]:
    """(per account, per address) from the settings."""
    c = current_app.config
    return (login_limits.Limit(int(c["LOGIN_ACCOUNT_MAX_FAILURES"]), int(c["LOGIN_ACCOUNT_WINDOW"]),
                               int(c["LOGIN_LOCKOUT_SECONDS"]), int(c["LOGIN_LOCKOUT_MAX_SECONDS"])),
            login_limits.Limit(int(c["LOGIN_ADDRESS_MAX_FAILURES"]), int(c["LOGIN_ADDRESS_WINDOW"])))


def _throttle_keys(username: str) -> tuple[tuple[str, login_limits.Limit], ...]:
    """(key, limit) of the account and of the client address."""
    account, address = _limits()
    return ((login_limits.account_key(username), account),
            (login_limits.address_key(request.remote_addr), address))


def _refuse_if_locked(session, keys) -> None:
    for key, limit in keys:
        until = login_limits.refused_until(session, key, limit)
        if until is not None:
            raise LoginRefused(until)


def _count(keys, succeeded: bool) -> None:
    with write() as tx:
        if succeeded:
            login_limits.clear(tx, keys[0][0])
        else:
            for key, limit in keys:
                login_limits.record_failure(tx, key, limit)


def attempt_login(username: str, password: str) -> User | None:
    """The officer with this username and password, or None (the failure is counted for the
    account and for the client address). Raises LoginRefused while either is locked out."""
    keys = _throttle_keys(username)
    with factory()() as session:
        _refuse_if_locked(session, keys)
        officer = authenticate(session, username, password)
        user = User.of(officer) if officer is not None else None
    _count(keys, user is not None)
    return user


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("inbox.index"))
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:200]
        password = (request.form.get("password") or "")[:1000]
        try:
            user = attempt_login(username, password)
        except LoginRefused as exc:
            flash(exc.message(), "danger")
            return render_template("login.html", username=username), 429, {"Retry-After": str(exc.retry_after)}
        if user is None:
            flash(_("用户名或密码不正确。"), "danger")
            return render_template("login.html", username=username), 401
        login_user(user)
        flash(_("欢迎，%(name)s。", name=user.display_name), "success")
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", username=username)


def _end_sessions_of(user_id: int) -> None:
    with write() as tx:
        officer = tx.get(Officer, user_id)
        if officer is not None:
            end_sessions(officer)


@bp.post("/logout")
@login_required
def logout():
    """Ends every session and API token of the officer, not only this browser's."""
    _end_sessions_of(current_user.id)
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))


PASSWORD_ERRORS = {
    "wrong_password": lambda: _("当前密码不正确。"),
    "too_short": lambda: _("新密码至少需要 %(n)d 个字符。", n=MIN_PASSWORD),
    "unchanged": lambda: _("新密码不能与当前密码相同。"),
    "mismatch": lambda: _("两次输入的新密码不一致。"),
}


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """The officer changes their own password; every session and token of theirs then ends."""
    if request.method == "GET":
        return render_template("password.html")
    current = (request.form.get("current_password") or "")[:1000]
    new = (request.form.get("new_password") or "")[:1000]
    keys = _throttle_keys(current_user.username)   # guessing the current password counts as failed logins
    try:
        with factory()() as session:
            _refuse_if_locked(session, keys)
        if new != (request.form.get("confirm_password") or ""):
            raise OfficerError("mismatch", "mismatch")
        with write() as tx:
            officer = tx.get(Officer, current_user.id)
            change_own_password(tx, officer, current, new)
    except LoginRefused as exc:
        flash(exc.message(), "danger")
        return render_template("password.html"), 429, {"Retry-After": str(exc.retry_after)}
    except OfficerError as exc:
        if exc.code == "wrong_password":
            _count(keys, succeeded=False)
        flash(PASSWORD_ERRORS.get(exc.code, PASSWORD_ERRORS["too_short"])(), "danger")
        return render_template("password.html"), 400
    logout_user()
    flash(_("密码已修改，您的所有登录和访问令牌已失效，请用新密码重新登录。"), "success")
    return redirect(url_for("auth.login"))


# -- API tokens ----------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="whistle-api-token")


def issue_token(user: User) -> str:
    return _serializer().dumps({"uid": user.id, "u": user.username, "sv": user.session_version})


def user_from_token(token: str) -> User | None:
    try:
        payload = _serializer().loads(token, max_age=current_app.config["API_TOKEN_MAX_AGE"])
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(payload, dict):
        return None
    version = payload.get("sv")
    if not isinstance(version, int) or isinstance(version, bool):
        return None
    user = load_user_by_id(payload.get("uid"), version)
    if user is None or user.username != payload.get("u"):
        return None
    return user


def bearer_user(headers) -> User | None:
    """The officer of the request's `Authorization: Bearer TOKEN`, or None."""
    header = headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    return user_from_token(token) if token else None
