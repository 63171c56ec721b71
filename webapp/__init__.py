"""The Flask application: thin views over the engine and the governance domain."""
from __future__ import annotations

import os
from datetime import timedelta

from flask import Flask, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.db import database_url

from .system import session_factory


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        DATABASE_URL=database_url(), SECRET_KEY=None, SECRET_KEY_FILE=None,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="zh_Hans_CN", BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        LOGIN_RATE_LIMIT="10 per minute;100 per hour",
        # failed logins counted in the database (all workers): per account, locked with back-off …
        LOGIN_ACCOUNT_MAX_FAILURES=5, LOGIN_ACCOUNT_WINDOW=24 * 3600,
        LOGIN_LOCKOUT_SECONDS=60, LOGIN_LOCKOUT_MAX_SECONDS=3600,
        # … and per client address (behind a reverse proxy: PROXY_HOPS)
        LOGIN_ADDRESS_MAX_FAILURES=30, LOGIN_ADDRESS_WINDOW=15 * 60,
        HTTPS=False, HSTS_SECONDS=0, PROXY_HOPS=0, CONTENT_SECURITY_POLICY=None,
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_HEADERS_ENABLED=True,
        API_TOKEN_MAX_AGE=8 * 3600, API_MAX_BODY=256 * 1024,
        MAX_PHOTOS=5, MAX_PHOTO_BYTES=5 * 1024 * 1024,
        MAX_CONTENT_LENGTH=30 * 1024 * 1024,
        UPLOAD_FOLDER=None,
    )
    app.config.from_prefixed_env("WHISTLE")
    if config:
        app.config.update(config)
    _secret_key(app)
    if not app.config["UPLOAD_FOLDER"]:
        app.config["UPLOAD_FOLDER"] = os.path.join(app.instance_path, "uploads")
    app.extensions["sessions"] = session_factory(app.config["DATABASE_URL"])

    from . import http_security
    http_security.init_app(app)
    _init_extensions(app)
    _injected_clock(app)
    from . import input_guard   # NUL bytes, lone surrogates, JSON too deep, ids out of range: 400/404
    input_guard.init_app(app)
    _register_blueprints(app)
    _template_helpers(app)
    _error_handlers(app)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


def _secret_key(app: Flask) -> None:
    """No built-in secret: the configured key (checked), a throwaway one under TESTING, else refuse."""
    from .secret_key import SecretKeyError, configured, temporary
    key = configured(app.config, strict=not app.config.get("TESTING"))
    if key is None:
        if not app.config.get("TESTING"):
            from .secret_key import HOW
            raise SecretKeyError(f"no secret key configured: {HOW}")
        key = temporary()
    app.config["SECRET_KEY"] = key


def _init_extensions(app: Flask) -> None:
    from .db import close_db
    from .extensions import babel, csrf, limiter, login_manager
    from .i18n import compile_catalogues, locale_selector

    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compile_catalogues())
    babel.init_app(app, locale_selector=locale_selector)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    app.teardown_appcontext(close_db)


def _injected_clock(app: Flask) -> None:
    """`CLOCK` (tests, demos): a callable returning a timezone-aware instant; every request then runs
    with the engine clock fixed at it, so deadlines, timers and "this year" follow the caller's clock."""
    clock = app.config.get("CLOCK")
    if clock is None:
        return
    from flask import g

    from engine.clock import frozen_at

    @app.before_request
    def _freeze_clock():
        g.injected_clock = frozen_at(clock())
        g.injected_clock.__enter__()

    @app.teardown_request
    def _release_clock(_exc):
        held = g.pop("injected_clock", None)
        if held is not None:
            held.__exit__(None, None, None)


def _register_blueprints(app: Flask) -> None:
    from . import api, api_admin, auth
    from .views import admin, inbox, intake, notices, processes, tasks, whistles
    for bp in (auth.bp, inbox.bp, intake.bp, tasks.bp, whistles.bp, notices.bp, api.bp, api_admin.bp,
               processes.bp, admin.bp):
        app.register_blueprint(bp)
    from . import api_stats
    from .views import assessment, joint, mechanisms, reports
    for bp in (reports.bp, joint.bp, mechanisms.bp, assessment.bp, api_stats.bp):
        app.register_blueprint(bp)
    from . import open311
    app.register_blueprint(open311.bp)
    from .views import calendar_admin
    app.register_blueprint(calendar_admin.bp)
    from .views import policy_settings
    app.register_blueprint(policy_settings.bp)


def _template_helpers(app: Flask) -> None:
    from . import i18n
    from .db import db
    from .terms import term
    from .views.notices import unread_count

    app.add_template_filter(i18n.fmt_date, "date")
    app.add_template_filter(i18n.fmt_datetime, "datetime")
    app.add_template_filter(i18n.fmt_rate, "rate")
    app.add_template_filter(term, "term")

    @app.context_processor
    def globals_():
        def lang_url(lang: str) -> str:
            args = dict(request.args)
            args["lang"] = lang
            args.update(request.view_args or {})   # a query parameter never overrides the path's
            return url_for(request.endpoint or "inbox.index", **args) \
                if request.endpoint else f"/?lang={lang}"

        unread = 0
        if current_user.is_authenticated and current_user.unit_id:
            unread = unread_count(db(), current_user.unit_id)
        return {"role_names": i18n.ROLE_NAMES, "english": i18n.is_english(), "lang_url": lang_url,
                "unread_notices": unread, "days_left": i18n.days_left_text,
                "html_lang": "en" if i18n.is_english() else "zh-CN"}


def _error_handlers(app: Flask) -> None:
    from .api import error_response, http_error_json

    def wants_json() -> bool:
        return request.path.startswith("/api/")

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        if wants_json():
            return error_response(400, "csrf", _("页面已过期，请刷新后重试。"))
        return render_template("error.html", status=400,
                               message=_("页面已过期或表单令牌无效，请返回刷新页面后重试。")), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/open311/"):
            from .open311 import http_error as open311_error
            return open311_error(exc)
        if wants_json():
            return http_error_json(exc)
        messages = {403: _("您无权查看该页面或办理该任务。"), 404: _("找不到该页面。"),
                    413: _("上传的内容过大。"), 429: _("尝试次数过多，请稍后再试。"),
                    405: _("不支持该请求方法。"), 400: _("请求无效。")}
        return render_template("error.html", status=exc.code,
                               message=messages.get(exc.code, exc.description)), exc.code

    @app.errorhandler(Exception)
    def server_error(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        app.logger.exception("unhandled error")
        if request.path.startswith("/open311/"):
            from .open311 import error_array
            return error_array(500, "Internal server error.")
        if wants_json():
            return error_response(500, "server_error", _("服务器内部错误。"))
        return render_template("error.html", status=500, message=_("服务器内部错误，请稍后再试。")), 500
