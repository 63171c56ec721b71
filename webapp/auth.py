"""Logging in and out (session cookie), the signed API tokens, and who is asking."""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from governance.models import Officer
from governance.officers import authenticate

from .db import factory
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

    # Flask-Login protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    @classmethod
    def of(cls, officer: Officer) -> "User":
        return cls(id=officer.id, username=officer.username, display_name=officer.display_name,
                   role=officer.role, unit_id=officer.unit_id,
                   unit_name=officer.unit.name if officer.unit is not None else None, active=officer.active)


def load_user_by_id(user_id) -> User | None:
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    with factory()() as session:
        officer = session.get(Officer, key)
        if officer is None or not officer.active:
            return None
        return User.of(officer)


@login_manager.user_loader
def _load_user(user_id):
    return load_user_by_id(user_id)


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


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("inbox.index"))
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        with factory()() as session:
            officer = authenticate(session, username, password)
            user = User.of(officer) if officer is not None else None
        if user is None:
            flash(_("用户名或密码不正确。"), "danger")
            return render_template("login.html", username=username), 401
        login_user(user)
        flash(_("欢迎，%(name)s。", name=user.display_name), "success")
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", username=username)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))


# -- API tokens ----------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="whistle-api-token")


def issue_token(user: User) -> str:
    return _serializer().dumps({"uid": user.id, "u": user.username})


def user_from_token(token: str) -> User | None:
    try:
        payload = _serializer().loads(token, max_age=current_app.config["API_TOKEN_MAX_AGE"])
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(payload, dict):
        return None
    user = load_user_by_id(payload.get("uid"))
    if user is None or user.username != payload.get("u"):
        return None
    return user


def bearer_user(headers) -> User | None:
    """The officer of the request's `Authorization: Bearer TOKEN`, or None."""
    header = headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    return user_from_token(token) if token else None
