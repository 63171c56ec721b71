"""The Flask application: thin views over the engine and the governance domain."""
from __future__ import annotations

from flask import Flask, jsonify

from engine.db import database_url

from .system import session_factory


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(DATABASE_URL=database_url(), SECRET_KEY="dev-only-change-me")
    app.config.from_prefixed_env("WHISTLE")
    if config:
        app.config.update(config)
    app.extensions["sessions"] = session_factory(app.config["DATABASE_URL"])

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/")
    def index():
        return "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>吹哨报到</title><h1>吹哨报到</h1>"

    return app
