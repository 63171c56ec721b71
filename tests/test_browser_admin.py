"""Policy staff and administrators in a real Chromium (Debian's /usr/bin/chromium via Playwright),
SQLite only: the modeler with our properties panel, a check that marks a problem on its element,
a deploy; an instance page with its failed element marked and an action with reason and
confirmation; the per-element overview; the decision table editor.

With WHISTLE_SCREENSHOTS=1 the pages are saved in test-output/ (a failing test always leaves one).
"""
import re

import pytest

from engine import runtime
from engine.db import write_session
from engine.deploy import deploy
from tests.policy_kit import COMMUNITY, probe
from webapp.system import FORMS_DIR, PROCESSES_DIR
from tests.webkit import report

from tests.browserkit import browser, live_site, log_in, page, require_browser, shot  # noqa: F401

pytestmark = pytest.mark.browser

require_browser("modeler.js")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_site(tmp_path_factory.mktemp("browser-admin"), editable=True) as site:
        yield site


def select_element(pg, element_id: str) -> None:
    """Select a diagram element as a click would (the whole diagram is small at fit-viewport)."""
    pg.evaluate("""(id) => { const m = window.wrModeler; const el = m.get('elementRegistry').get(id);
        m.get('selection').select(el); m.get('canvas').scrollToElement(el); }""", element_id)


def test_modeler_properties_check_marks_problem_and_deploys(page, live):
    server, factory = live
    log_in(page, server, "policy")
    page.goto(server.url + "/processes/modeler?file=whistle.bpmn")
    page.wait_for_selector("[data-modeler][data-rendered='true']")
    # a user task: our group with the form chosen from forms/ and the role list
    select_element(page, "triage")
    page.wait_for_selector("text=吹哨报到：办理设置")
    group = page.locator("[data-group-id='group-wr-user-task']")
    if not group.locator("select").first.is_visible():
        group.locator(".bio-properties-panel-group-header").click()
    form_select = group.locator("select[name='wr-form']")
    assert form_select.input_value() == "triage.json"
    options = form_select.locator("option").all_inner_texts()
    assert any("complete_matter.json" in o for o in options)
    assert "社区党组织（community）" in group.locator("select[name='wr-role']").locator("option").all_inner_texts()
    shot(page, "modeler-user-task")

    # a service task: the handler can only be one of the registered handlers
    select_element(page, "next_meeting")
    page.wait_for_selector("text=吹哨报到：处理程序")
    handler = page.locator("select[name='wr-handler']")
    if not handler.is_visible():
        page.locator("[data-group-id='group-wr-service-task'] .bio-properties-panel-group-header").click()
    assert handler.input_value() == "deadline.next_joint_meeting"
    handlers = handler.locator("option").all_inner_texts()
    assert "dispatch.issue_order" in handlers and "os.system" not in handlers

    # remove the form of 'triage' → the check marks the problem on that element; deploy stays off
    select_element(page, "triage")
    page.locator("select[name='wr-form']").select_option("")
    page.get_by_test_id("check").click()
    page.wait_for_selector("[data-modeler][data-checked='problems']")
    assert "triage" in page.get_attribute("[data-modeler]", "data-marked").split()
    assert page.locator("g.djs-element.wr-problem[data-element-id='triage']").count() == 1
    assert page.locator(".wr-problem-badge").count() >= 1
    assert "triage" in page.get_by_test_id("problems").inner_text()
    assert page.get_by_test_id("deploy").is_disabled()
    shot(page, "modeler-problem")

    # put it back, rename the task, check again and deploy a new version
    page.locator("select[name='wr-form']").select_option("triage.json")
    page.evaluate("""() => {
        const m = window.wrModeler; const el = m.get('elementRegistry').get('triage');
        m.get('modeling').updateLabel(el, '社区研判（浏览器）');
    }""")
    page.get_by_test_id("check").click()
    page.wait_for_selector("[data-modeler][data-checked='ok']")
    assert page.locator("g.wr-problem").count() == 0
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("deploy").click()
    page.wait_for_url(re.compile(r".*/processes$"))
    assert "已部署" in page.content() and "第 2 版" in page.content()
    _, instance_id, _ = report(factory, title="浏览器部署后")
    with factory() as session:
        from engine.models import InboxTask, Instance
        from sqlalchemy import select
        assert session.get(Instance, instance_id).version.version == 2
        assert session.scalar(select(InboxTask.name).where(InboxTask.instance_id == instance_id)) == "社区研判（浏览器）"
    assert not page.js_errors, page.js_errors


def test_instance_page_marks_elements_and_acts_with_reason(page, live):
    server, factory = live
    with write_session(factory) as session:
        deploy(session, {"probe.bpmn": probe().encode()}, forms_dir=FORMS_DIR, actor="test")
    with write_session(factory) as session:
        instance_id = runtime.start(session, "probe", {"amount": -3, "community_id": COMMUNITY}, actor="test").id
    log_in(page, server, "admin")
    page.goto(server.url + "/admin/instances?status=incident")
    page.locator(f"tr[data-instance='{instance_id}'] a").click()
    page.wait_for_selector("[data-bpmn-states][data-rendered='true']")
    marked = page.get_attribute("[data-bpmn-states]", "data-marked").split()
    assert "failed:record" in marked
    assert "negative" in page.get_by_test_id("incident").inner_text()
    shot(page, "admin-instance-incident")

    # suspend: the reason is required (the browser refuses an empty one), then a confirmation
    suspend = page.get_by_test_id("action-suspend")
    suspend.locator("button").click()
    assert page.get_by_test_id("status").inner_text() == "故障"            # nothing sent without a reason
    suspend.locator("input[name='reason']").fill("排查故障原因")
    page.once("dialog", lambda dialog: dialog.dismiss())
    suspend.locator("button").click()
    assert page.get_by_test_id("status").inner_text() == "故障"            # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    suspend.locator("button").click()
    page.wait_for_selector("text=已执行“暂停”")
    assert page.get_by_test_id("status").inner_text() == "已暂停"
    # fix the data, resume, retry
    edit = page.get_by_test_id("action-edit_data")
    edit.locator("textarea[name='changes']").fill('{"amount": 3}')
    edit.locator("input[name='reason']").fill("金额录入错误")
    page.once("dialog", lambda dialog: dialog.accept())
    edit.locator("button").click()
    page.wait_for_selector("text=已执行“修改数据”")
    for action, reason, done in (("resume", "已修正", "已执行“恢复”"), ("retry", "修正后重试", "已执行“重试”")):
        form = page.get_by_test_id(f"action-{action}").first
        form.locator("input[name='reason']").fill(reason)
        page.once("dialog", lambda dialog: dialog.accept())
        form.locator("button").click()
        page.wait_for_selector(f"text={done}")     # the page the action redirected to
    page.wait_for_selector("[data-bpmn-states][data-rendered='true']")
    assert page.get_by_test_id("status").inner_text() == "运行中"
    marked = page.get_attribute("[data-bpmn-states]", "data-marked").split()
    assert "active:review" in marked and "completed:record" in marked and "failed:record" not in marked
    assert "修正后重试" in page.get_by_test_id("audit").inner_text()
    shot(page, "admin-instance-running")
    assert not page.js_errors, page.js_errors


def test_overview_draws_counts_on_the_diagram(page, live):
    server, factory = live
    for n in range(3):
        report(factory, title=f"概览事项 {n}")
    log_in(page, server, "admin")
    page.goto(server.url + "/admin/overview")
    page.wait_for_selector("[data-bpmn-overview][data-rendered='true']")
    assert int(page.get_attribute("[data-bpmn-overview]", "data-overlays")) >= 1
    assert page.locator(".wr-count-ready").count() >= 1
    assert "待办" in page.get_by_test_id("overview-table").inner_text()
    shot(page, "admin-overview")
    assert not page.js_errors, page.js_errors


def test_decision_table_editor_opens_and_checks(page, live):
    server, _ = live
    log_in(page, server, "policy")
    page.goto(server.url + "/processes/decisions")
    page.wait_for_selector("[data-dmn-editor][data-rendered='true']")
    assert page.locator(".tjs-table").count() == 1                       # the decision table view
    page.get_by_test_id("dmn-check").click()
    page.wait_for_selector("[data-dmn-editor][data-checked='ok']")
    shot(page, "decision-table")
    assert not page.js_errors, page.js_errors


@pytest.mark.parametrize("name", sorted(p.name for p in PROCESSES_DIR.glob("*.bpmn")))
def test_our_diagrams_survive_the_modeler_round_trip(page, live, name):
    """Opening a diagram of processes/ and saving it again keeps everything the engine reads."""
    server, _ = live
    log_in(page, server, "policy")
    page.goto(server.url + f"/processes/modeler?file={name}")
    page.wait_for_selector("[data-modeler][data-rendered='true']")
    page.get_by_test_id("check").click()
    page.wait_for_selector("[data-modeler][data-checked]")
    assert page.get_attribute("[data-modeler]", "data-checked") == "ok", page.get_by_test_id("problems").inner_text()
    assert not page.js_errors, page.js_errors
