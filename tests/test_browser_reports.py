"""The dashboard in a real Chromium (Debian's /usr/bin/chromium via Playwright; SQLite): the
ECharts charts render (canvas), the tables hold the figures, an export runs as a job with a
progress bar and downloads, and the page is readable at phone width. Screenshots go to
test-output/ (dashboard.png, dashboard-phone.png)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from governance.stats import stats
from tests.test_reports_pages import generate
from tests.webkit import LiveServer, dispose, make_app, prepare_database

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"

if not os.path.exists(CHROMIUM):
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-reports")
    url = f"sqlite:///{tmp / 'reports.db'}"
    factory = prepare_database(url)
    generate(factory)
    app = make_app(url, tmp)
    with LiveServer(app) as server:
        yield server, factory
    dispose(app)
    factory.kw["bind"].dispose()


def test_dashboard_renders_charts_and_tables(live, tmp_path):
    server, factory = live
    with factory() as session:
        expected = stats(session, year=2026)
    OUTPUT.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", accept_downloads=True)
            context.set_default_timeout(15_000)
            pg = context.new_page()
            errors = []
            pg.on("pageerror", lambda exc: errors.append(str(exc)))
            pg.goto(server.url + "/login")
            pg.get_by_label("用户名").fill("zzb-mas")
            pg.get_by_label("密码").fill("demo1234")
            pg.get_by_role("button", name="登录").click()
            pg.wait_for_url(re.compile(r".*/inbox$"))
            pg.locator(".wr-sidebar").get_by_test_id("menu-dashboard").click()
            pg.wait_for_url(re.compile(r".*/dashboard$"))
            pg.select_option("#f-year", "2026")
            pg.get_by_role("button", name="筛选").click()
            pg.wait_for_url(re.compile(r".*year=2026.*"))
            charts = pg.locator(".wr-chart")
            assert charts.count() == 5
            pg.wait_for_function("document.querySelectorAll('.wr-chart[data-rendered] canvas').length >= 5")
            for i in range(charts.count()):
                box = charts.nth(i).locator("canvas").first.bounding_box()
                assert box and box["width"] > 200 and box["height"] > 200
            assert pg.get_by_test_id("total-reported").inner_text() == str(expected["totals"]["reported"])
            rate = expected["rates"]["satisfaction"]
            assert pg.get_by_test_id("rate-satisfaction").inner_text() == f"{rate:.1f}%"
            table = pg.get_by_test_id("table-district")
            assert table.is_visible()
            assert table.locator("tbody tr").count() == len(expected["by_district"])
            first = expected["by_district"][0]
            assert table.locator("tbody tr").first.locator("th").inner_text() == first["name"]
            pg.screenshot(path=str(OUTPUT / "dashboard.png"), full_page=True)

            # export as a job with a progress bar, then the download
            form = pg.get_by_test_id("export-register")
            with pg.expect_download() as info:
                form.get_by_role("button", name="导出 Excel").click()
            download = info.value
            assert download.suggested_filename.endswith(".xlsx")
            target = tmp_path / "register.xlsx"
            download.save_as(target)
            ws = load_workbook(target, read_only=True).worksheets[0]
            assert sum(1 for _ in ws.iter_rows()) - 1 == expected["totals"]["reported"]
            assert "导出完成" in form.locator(".export-status").inner_text()
            assert not errors, errors

            # phone width: the charts shrink with the page, the tables scroll inside their box
            pg.set_viewport_size({"width": 390, "height": 844})
            pg.wait_for_timeout(400)
            width = pg.evaluate("document.documentElement.scrollWidth")
            assert width <= 400, width
            box = charts.first.locator("canvas").first.bounding_box()
            assert box["width"] <= 390
            pg.screenshot(path=str(OUTPUT / "dashboard-phone.png"), full_page=True)
            pg.get_by_test_id("table-street").scroll_into_view_if_needed()
            pg.screenshot(path=str(OUTPUT / "dashboard-phone-table.png"))
            pg.locator(".wr-chart").nth(3).scroll_into_view_if_needed()
            pg.screenshot(path=str(OUTPUT / "dashboard-phone-chart.png"))
            context.close()
        finally:
            browser.close()
