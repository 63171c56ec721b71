"""Shared pieces of the browser tests: Debian's Chromium driven by Playwright (never a downloaded
browser), a page per test that collects JavaScript errors and leaves a full-page screenshot in
test-output/ when its test fails, and helpers to log in and take screenshots.

A browser test module calls `require_browser()` at import and imports the fixtures it uses
(`from tests.browserkit import browser, page`). With WHISTLE_SCREENSHOTS=1 the `shot()` pages are
saved on success too.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
OUTPUT = ROOT / "test-output"
DIST = ROOT / "webapp" / "static" / "dist"
ALWAYS = os.environ.get("WHISTLE_SCREENSHOTS") == "1"


@contextmanager
def live_site(tmp: Path, *, editable: bool = False, seed=None):
    """(server, session factory): a demo database (SQLite file in `tmp`) and the app over it, served
    on 127.0.0.1 (tests.webkit.demo_app: `seed`, `editable`)."""
    from tests.webkit import LiveServer, demo_app

    with demo_app(f"sqlite:///{tmp / 'browser.db'}", tmp, seed=seed, editable=editable) as (app, factory):
        with LiveServer(app) as server:
            yield server, factory


def require_browser(*bundles: str) -> None:
    """Skip the calling module without Chromium or without the named front-end bundles."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium fonts-noto-cjk)",
                    allow_module_level=True)
    for bundle in bundles:
        if not (DIST / bundle).exists():
            pytest.skip(f"front-end bundle {bundle} not built (make assets)", allow_module_level=True)
    pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh page (Chinese locale); `page.js_errors` lists page and console errors."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(msg):   # console errors, but the browser's own request for /favicon.ico
        if msg.type == "error" and not (msg.location or {}).get("url", "").endswith("/favicon.ico"):
            errors.append(msg.text)
    pg.on("console", on_console)
    pg.js_errors = errors
    failed_before = request.session.testsfailed
    yield pg
    if request.session.testsfailed > failed_before:
        OUTPUT.mkdir(exist_ok=True)
        try:
            pg.screenshot(path=str(OUTPUT / f"FAILED-{request.node.name}.png"), full_page=True)
        except Exception:   # the page may be gone; the test's own error says more
            pass
    context.close()


def shot(pg, name: str, full_page: bool = True) -> None:
    if ALWAYS:
        OUTPUT.mkdir(exist_ok=True)
        pg.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=full_page)


def log_in(pg, server, username: str, password: str = "demo1234") -> None:
    pg.goto(server.url + "/login")
    pg.get_by_label("用户名").fill(username)
    pg.get_by_label("密码").fill(password)
    pg.get_by_role("button", name="登录").click()
    pg.wait_for_url(re.compile(r".*/inbox$"))
