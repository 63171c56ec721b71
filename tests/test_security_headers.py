"""Issue 10: every response carries CSP, nosniff, frame and referrer policies; cookies are Secure
and HSTS is sent when the site is configured as served over HTTPS; the templates keep to the CSP
(no inline scripts or event handlers), so the policy breaks none of the app's own pages."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.webkit import csrf_token, demo_app, logged_in, login

TEMPLATES = Path(__file__).resolve().parent.parent / "webapp" / "templates"


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as site:
        yield site


def _directives(csp: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in csp.split(";")) if part}


def assert_hardened(response):
    headers = response.headers
    csp = _directives(headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]                  # no inline or eval'd script
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"] and csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_every_kind_of_response_carries_the_security_headers(site):
    app, _ = site
    client = app.test_client()
    anonymous = [client.get("/login"), client.get("/inbox"), client.get("/no-such-page"),
                 client.get("/api/v1/openapi.json"), client.get("/api/v1/me"), client.get("/healthz"),
                 client.get("/open311/v2/services.json"), client.post("/login", data={})]
    officer = logged_in(app, "admin")
    pages = [officer.get("/inbox"), officer.get("/admin/officers"), officer.get("/account/password")]
    for response in anonymous + pages:
        assert_hardened(response)
        assert "Strict-Transport-Security" not in response.headers    # not configured: plain HTTP


def test_cookies_are_not_secure_over_plain_http_by_default(site):
    app, _ = site
    cookie = login(app.test_client(), "sq-hs-jfl-sq1").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" not in cookie


def test_over_https_cookies_are_secure_and_hsts_is_sent(db_url, tmp_path):
    with demo_app(db_url, tmp_path, HTTPS=True, HSTS_SECONDS=31536000) as (app, _):
        client = app.test_client()
        page = client.get("/login", base_url="https://whistle.example")
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        done = client.post("/login", base_url="https://whistle.example",
                           headers={"Referer": "https://whistle.example/login"}, data={
            "username": "sq-hs-jfl-sq1", "password": "demo1234", "csrf_token": csrf_token(page.get_data(as_text=True))})
        assert done.status_code == 302
        cookie = done.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert_hardened(done)
    with demo_app(db_url, tmp_path / "plain", HTTPS=True) as (app, _):
        assert "Strict-Transport-Security" not in app.test_client().get("/login").headers   # HSTS only when set


def test_https_behind_a_proxy_is_recognised_only_with_trusted_hops(db_url, tmp_path):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    with demo_app(db_url, tmp_path, PROXY_HOPS=1) as (app, _):
        seen = {}

        @app.get("/_probe")
        def _probe():
            from flask import request
            seen.update(scheme=request.scheme, addr=request.remote_addr)
            return "ok"

        app.test_client().get("/_probe", headers=forwarded)
        assert seen == {"scheme": "https", "addr": "203.0.113.9"}
    with demo_app(db_url, tmp_path / "direct") as (app, _):
        seen = {}

        @app.get("/_probe")
        def _probe():
            from flask import request
            seen.update(scheme=request.scheme, addr=request.remote_addr)
            return "ok"

        app.test_client().get("/_probe", headers=forwarded)
        assert seen == {"scheme": "http", "addr": "127.0.0.1"}


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def test_templates_keep_to_the_content_security_policy():
    """Scripts come from the bundles only (script-src 'self'): no inline <script> that runs, no
    on…= handlers, no javascript: URLs in any template."""
    offences = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, re.compile(r"javascript:", re.I)):
            offences += [f"{path.relative_to(TEMPLATES)}: {m.group(0).strip()}" for m in pattern.finditer(text)]
    assert not offences, offences
