"""bpmnlint in the policy staff's modeler (real Chromium, SQLite only): our diagrams open without
lint issues under the bundled recommended rules, and a dangling task is marked as soon as it is
drawn.

With WHISTLE_SCREENSHOTS=1 the pages are saved in test-output/ (a failing test always leaves one).
"""
import pytest

from webapp.system import PROCESSES_DIR

from tests.browserkit import browser, live_site, log_in, page, require_browser, shot  # noqa: F401

pytestmark = pytest.mark.browser

require_browser("modeler.js")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_site(tmp_path_factory.mktemp("browser-lint"), editable=True) as (server, _):
        yield server


def open_modeler(pg, server, name: str) -> None:
    log_in(pg, server, "policy")
    pg.goto(server.url + f"/processes/modeler?file={name}")
    pg.wait_for_selector("[data-modeler][data-rendered='true']")
    pg.wait_for_selector("[data-modeler][data-linted]")


def lint_issues(pg) -> list[str]:
    return (pg.get_attribute("[data-modeler]", "data-lint-issues") or "").split()


@pytest.mark.parametrize("name", sorted(p.name for p in PROCESSES_DIR.glob("*.bpmn")))
def test_our_diagrams_have_no_lint_issues(page, live, name):
    open_modeler(page, live, name)
    assert lint_issues(page) == []
    assert page.locator(".bjsl-overlay").count() == 0
    assert not page.js_errors, page.js_errors


def test_a_dangling_task_is_marked_by_the_linter(page, live):
    open_modeler(page, live, "whistle.bpmn")
    linted = int(page.get_attribute("[data-modeler]", "data-linted"))
    # draw a task next to the first user task, connected to nothing
    page.evaluate("""() => {
        const m = window.wrModeler; const reg = m.get('elementRegistry');
        const triage = reg.get('triage');
        const bo = m.get('bpmnFactory').create('bpmn:Task', { id: 'dangling_task' });
        const shape = m.get('elementFactory').createShape({ type: 'bpmn:Task', businessObject: bo });
        m.get('modeling').createShape(shape, { x: triage.x + 50, y: triage.y + 170 }, triage.parent);
        m.get('canvas').zoom(1); m.get('canvas').scrollToElement(reg.get('dangling_task'), { top: 200, bottom: 200, left: 500, right: 500 });
    }""")
    page.wait_for_function(f"Number(document.querySelector('[data-modeler]').dataset.linted) > {linted}")
    assert "dangling_task" in lint_issues(page)
    overlay = page.locator(".djs-overlay-container [data-container-id='dangling_task'] .bjsl-overlay")
    assert overlay.count() == 1
    assert "Element is not connected" in overlay.first.text_content()     # rule no-disconnected
    overlay.first.hover()
    # the toolbar button reports errors
    assert page.locator(".bjsl-button-error").count() == 1
    shot(page, "modeler-lint-dangling")
    assert not page.js_errors, page.js_errors
