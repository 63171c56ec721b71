"""The dashboard in a real Chromium (Debian's /usr/bin/chromium via Playwright; SQLite): the
ECharts charts render (canvas), the tables hold the figures, an export runs as a job with a
progress bar and downloads, and the page is readable at phone width.

With WHISTLE_SCREENSHOTS=1 the pages are saved in test-output/ (a failing test always leaves one).
"""
from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook

from governance.stats import stats
from tests.test_reports_pages import generate

from tests.browserkit import browser, live_site, log_in, page, require_browser, shot  # noqa: F401

pytestmark = pytest.mark.browser

require_browser("charts.js")

from playwright.sync_api import expect  # noqa: E402  (after the skip check)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_site(tmp_path_factory.mktemp("browser-reports"), seed=generate) as site:
        yield site


def test_dashboard_renders_charts_and_tables(live, page, tmp_path):
    server, factory = live
    with factory() as session:
        expected = stats(session, year=2026)
    log_in(page, server, "zzb-mas")
    page.locator(".wr-sidebar").get_by_test_id("menu-dashboard").click()
    page.wait_for_url(re.compile(r".*/dashboard$"))
    page.select_option("#f-year", "2026")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(re.compile(r".*year=2026.*"))
    charts = page.locator(".wr-chart")
    assert charts.count() == 5
    page.wait_for_function("document.querySelectorAll('.wr-chart[data-rendered] canvas').length >= 5")
    for i in range(charts.count()):
        box = charts.nth(i).locator("canvas").first.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 200
    assert page.get_by_test_id("total-reported").inner_text() == str(expected["totals"]["reported"])
    rate = expected["rates"]["satisfaction"]
    assert page.get_by_test_id("rate-satisfaction").inner_text() == f"{rate:.1f}%"
    table = page.get_by_test_id("table-district")
    expect(table).to_be_visible()
    assert table.locator("tbody tr").count() == len(expected["by_district"])
    first = expected["by_district"][0]
    assert table.locator("tbody tr").first.locator("th").inner_text() == first["name"]
    shot(page, "dashboard")

    # export as a job with a progress bar, then the download
    form = page.get_by_test_id("export-register")
    with page.expect_download() as info:
        form.get_by_role("button", name="导出 Excel").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    target = tmp_path / "register.xlsx"
    download.save_as(target)
    ws = load_workbook(target, read_only=True).worksheets[0]
    assert sum(1 for _ in ws.iter_rows()) - 1 == expected["totals"]["reported"]
    expect(form.locator(".export-status")).to_contain_text("导出完成")
    assert not page.js_errors, page.js_errors

    # phone width: the charts shrink with the page, the tables scroll inside their box
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("""() => document.documentElement.scrollWidth <= 400
        && document.querySelector('.wr-chart canvas').getBoundingClientRect().width <= 390""")
    shot(page, "dashboard-phone")
    page.get_by_test_id("table-street").scroll_into_view_if_needed()
    shot(page, "dashboard-phone-table", full_page=False)
    page.locator(".wr-chart").nth(3).scroll_into_view_if_needed()
    shot(page, "dashboard-phone-chart", full_page=False)
