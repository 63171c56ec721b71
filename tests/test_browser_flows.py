"""The main paths in a real Chromium (Debian's /usr/bin/chromium) through Playwright, against the
app served on 127.0.0.1 in a thread. One demo database (SQLite) for the module.

A failing test leaves a full-page screenshot of where it stood in test-output/; with
WHISTLE_SCREENSHOTS=1 the main pages are saved there on success too.
"""
import re

import pytest

from engine import runtime
from engine.db import write_session
from tests.webkit import advance, ready, report

from tests.browserkit import browser, live_site, log_in, page, require_browser, shot  # noqa: F401

pytestmark = pytest.mark.browser

require_browser()

from playwright.sync_api import expect  # noqa: E402  (after the skip check)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_site(tmp_path_factory.mktemp("browser")) as site:
        yield site


def test_grid_worker_reports_and_community_triages(live, page):
    server, factory = live
    log_in(page, server, "wg-hs-jfl-sq1")
    page.get_by_role("link", name="上报问题").first.click()
    shot(page, "intake")
    page.get_by_label("标题").fill("花园路路灯不亮")
    page.get_by_label("类别").select_option("明灯")
    page.get_by_label("问题描述").fill("三盏路灯连续一周不亮，居民夜间出行不便。")
    page.get_by_label("地点").fill("花园路 12 号")
    page.get_by_test_id("submit-report").click()
    number = page.get_by_test_id("whistle-no").inner_text()
    assert re.match(r"^HS-\d{4}-\d{6}$", number)
    page.wait_for_selector("[data-bpmn-viewer][data-rendered='true']")
    assert page.locator(".wr-current").count() >= 1        # the ready task is marked in the diagram
    shot(page, "whistle")

    page.get_by_role("button", name="退出").click()
    log_in(page, server, "sq-hs-jfl-sq1")
    assert "湖北路社区" in page.get_by_test_id("whoami").inner_text()
    row = page.locator("tr", has_text="花园路路灯不亮")
    shot(page, "inbox")
    row.get_by_role("link", name="社区研判").click()
    page.get_by_label("上报街道党工委协调").check()
    page.get_by_label("答复居民").fill("已上报街道协调解决，请耐心等待。")
    shot(page, "task")
    page.get_by_test_id("submit-task").click()
    page.wait_for_url(re.compile(r".*/inbox$"))
    assert "已办理“社区研判”" in page.locator(".alert-success").inner_text()
    assert page.locator("tr", has_text="花园路路灯不亮").count() == 0


def test_validation_error_is_shown_per_field_and_input_kept(live, page):
    server, factory = live
    _, iid, _ = report(factory, title="小区门口积水")
    task_id = ready(factory, iid)[0].id
    log_in(page, server, "sq-hs-jfl-sq1")
    page.goto(f"{server.url}/tasks/{task_id}")
    page.get_by_label("研判意见").fill("需要现场查看")
    page.get_by_test_id("submit-task").click()
    summary = page.get_by_test_id("error-summary")
    assert "请修改以下 2 处错误" in summary.inner_text()
    assert page.locator("[data-field-error='route']").inner_text() == "此项为必填项。"
    assert page.locator("[data-field-error='reply']").inner_text() == "此项为必填项。"
    assert page.get_by_label("研判意见").input_value() == "需要现场查看"
    shot(page, "task-errors")


def test_stale_submission_is_explained(live, page):
    server, factory = live
    _, iid, _ = report(factory, title="健身器材损坏")
    task_id = ready(factory, iid)[0].id
    log_in(page, server, "sq-hs-jfl-sq1")
    page.goto(f"{server.url}/tasks/{task_id}")
    with write_session(factory) as session:          # a colleague does it first
        runtime.complete(session, task_id, {"route": "local", "reply": "社区处理"}, actor="colleague")
    page.get_by_label("社区就地解决").check()
    page.get_by_label("答复居民").fill("我们来处理")
    page.get_by_test_id("submit-task").click()
    page.wait_for_url(re.compile(r".*/inbox$"))
    assert "已由同事办理" in page.locator(".alert-warning").inner_text()


def test_department_reports_for_duty(live, page):
    server, factory = live
    wid, iid, _ = report(factory, title="公交站点设置不合理")
    tasks = advance(factory, iid, "report_for_duty")
    # R8: the lead and the cooperating department each have their own report: take the lead's
    task_id = next(t.id for t in tasks if t.task == "report_for_duty" and t.unit_id == "hs-cgj")
    log_in(page, server, "bm-hs-cgj")
    link = page.locator(f"a[href='/tasks/{task_id}']")
    assert "剩余" in page.locator("tr", has=link).inner_text()
    link.click()
    page.get_by_label("报到日期").fill("2026-11-16")
    page.get_by_label(re.compile("^分管负责人")).fill("王主任")
    page.get_by_label("负责人电话").fill("13900000000")
    page.get_by_label(re.compile("^具体联系人")).fill("李干事")
    page.get_by_label("联系人电话").fill("0555-2345678")
    page.get_by_label("工作方案").fill("一周内现场调研，两周内提出站点调整方案。")
    page.get_by_test_id("submit-task").click()
    page.wait_for_url(re.compile(r".*/inbox$"))
    assert "已办理“部门报到”" in page.locator(".alert-success").inner_text()
    page.goto(f"{server.url}/whistles/{wid}")
    page.wait_for_selector("[data-bpmn-viewer][data-rendered='true']")
    assert "花山区城市管理局" in page.get_by_test_id("departments").inner_text()
    shot(page, "whistle-handling")


def test_english_switch(live, page):
    server, _ = live
    log_in(page, server, "sq-hs-jfl-sq1")
    page.get_by_test_id("lang-en").click()
    page.wait_for_url(re.compile(r".*lang=en"))
    assert page.get_by_role("heading", level=1).inner_text() == "Inbox"
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Search whistles").first.click()
    page.wait_for_url(re.compile(r".*/whistles"))
    expect(page.get_by_role("button", name="Search")).to_be_visible()
    shot(page, "search-en")
    page.get_by_test_id("lang-zh").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("查询吹哨事项")


def test_phone_width_menu_and_keyboard(live, browser):
    server, _ = live
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    pg = context.new_page()
    try:
        log_in(pg, server, "sq-hs-jfl-sq1")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        pg.get_by_role("button", name="菜单").click()
        pg.locator("#wr-nav").get_by_role("link", name="查询吹哨事项").click()
        pg.wait_for_url(re.compile(r".*/whistles"))
        pg.keyboard.press("Tab")
        assert pg.evaluate("document.activeElement.textContent.trim()") == "跳到正文"
        shot(pg, "phone-search")
    finally:
        context.close()
