"""HTTP hardening set from the settings: Secure cookies over HTTPS, the trusted reverse-proxy hops
(ProxyFix) and the security headers of every response.

Settings (env `WHISTLE_<NAME>`):
- `HTTPS` (1 when users reach the site over HTTPS): session and remember cookies are `Secure`.
- `HSTS_SECONDS` (> 0, with HTTPS): `Strict-Transport-Security: max-age=…; includeSubDomains`.
- `PROXY_HOPS` (number of trusted reverse proxies in front, 0 = none): the client address, scheme,
  host and port are taken from that many `X-Forwarded-*` hops; never trusted when 0.
- `CONTENT_SECURITY_POLICY`: the CSP (default below: scripts only from the app's own bundles).

A small after-request hook rather than a library: flask-talisman is no longer maintained upstream,
and the headers here are fixed strings.
"""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# The bundles in static/dist are the only scripts; templates carry JSON in <script type="application/json">
# (data, never run). Styles: bootstrap, bpmn-js and dmn-js set inline styles, so 'unsafe-inline' stays for
# styles only. bpmn-js/dmn-js icons are fonts and SVG/data URIs; echarts draws on canvas.
DEFAULT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
               "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def _flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def init_app(app: Flask) -> None:
    config = app.config
    https = _flag(config.get("HTTPS", False))
    config["HTTPS"] = https
    if https:
        config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https")
    hops = int(config.get("PROXY_HOPS") or 0)
    if hops < 0:
        raise ValueError("PROXY_HOPS must be 0 or more")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)
    hsts = int(config.get("HSTS_SECONDS") or 0)
    headers = {
        "Content-Security-Policy": config.get("CONTENT_SECURITY_POLICY") or DEFAULT_CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }
    if https and hsts > 0:
        headers["Strict-Transport-Security"] = f"max-age={hsts}; includeSubDomains"

    @app.after_request
    def _security_headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
