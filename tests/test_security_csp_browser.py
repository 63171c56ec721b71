"""Issue 10: the Content Security Policy breaks none of the app's own pages. In a real Chromium
(Debian's, via Playwright), every page with a front-end bundle — login, inbox, whistle diagram
(bpmn-js viewer), modeler (bpmn-js), decision table (dmn-js), dashboard (echarts), instance
diagram — loads under the policy with no violation reported, and the confirmation that used to be
an inline handler still asks before the joint meeting is recorded."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engine import timers
from tests.browserkit import browser, live_site, log_in, page, require_browser  # noqa: F401
from tests.webkit import DEFAULT_NOW, advance, complete_as_officer, ready, report

pytestmark = pytest.mark.browser

require_browser("app.js", "viewer.js", "modeler.js", "dmn.js", "charts.js", "admin.js")

WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '')));"""


def _seed(factory):
    report(factory, title="公交站点设置不合理")
    _wid, iid, _no = report(factory, title="花园路路面塌陷", category="市容环境")
    advance(factory, iid, "street_review")
    _wid, hard, _no = report(factory, title="背街小巷停车难", category="市容环境")   # waits for the joint meeting
    complete_as_officer(factory, ready(factory, hard)[0], {"route": "hard", "reply": "提交联席会议"})
    assert not timers.sweep(factory, now=DEFAULT_NOW + timedelta(days=200)).incidents   # the timer worker


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_site(tmp_path_factory.mktemp("browser-csp"), seed=_seed) as site:
        yield site


def _violations(pg) -> list[str]:
    return pg.evaluate("window.__csp || []")


def test_every_page_with_a_bundle_runs_under_the_policy(live, page):
    server, factory = live
    from sqlalchemy import select

    from governance.models import Whistle
    with factory() as session:
        whistle = session.scalars(select(Whistle).order_by(Whistle.id)).first()
        whistle_id, instance_id = whistle.id, whistle.instance_id
    page.add_init_script(WATCH)
    log_in(page, server, "admin")
    seen = {}
    for path, ready in (("/inbox", "main"), (f"/whistles/{whistle_id}", ".djs-container"),
                        ("/processes/modeler?file=whistle.bpmn", ".djs-container"),
                        ("/processes/decisions", ".dmn-decision-table-container, .tjs-container"),
                        ("/dashboard", "canvas"), (f"/admin/instances/{instance_id}", ".djs-container"),
                        ("/account/password", "form[data-testid=password-form]")):
        response = page.goto(server.url + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.locator(ready).first.wait_for(state="attached")
        seen[path] = _violations(page)
    assert all(v == [] for v in seen.values()), seen
    assert not [e for e in page.js_errors if "Content Security Policy" in e], page.js_errors


def test_the_joint_meeting_confirmation_still_asks(live, page):
    server, _factory = live
    page.add_init_script(WATCH)
    log_in(page, server, "sq-hs-jfl-sq1")
    page.goto(server.url + "/inbox/joint-meeting")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("[data-testid=joint-form] button[type=submit]").click()
    assert asked and "会议决定" in asked[0]
    assert page.url.endswith("/inbox/joint-meeting")               # dismissed: nothing was sent
    assert _violations(page) == []
