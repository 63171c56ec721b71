"""R10/R4: the priority table's earlier date is shown as a target beside the one-quarter deadline,
on the whistle page and in the lead department's inbox — never as the deadline itself."""
import pytest

from tests.webkit import advance, demo_app, logged_in, report


@pytest.fixture
def site(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as site:
        yield site


def test_r10_a_high_priority_matter_shows_its_target_beside_the_quarter_deadline(site):
    app, factory = site
    wid, iid, _ = report(factory, title="主干道井盖缺失", category="道路设施")
    # urgent and simple: the priority table sets a one-month target (R4)
    advance(factory, iid, "complete_matter", {
        "street_review": {"decision": "start_procedure", "opinion": "紧急", "category": "道路设施", "urgency": 3,
                          "complexity": 1, "lead_department_id": "hs-cgj", "cooperating_department_ids": []},
        "propose": {"decision": "consult", "lead_department_id": "hs-cgj", "cooperating_department_ids": []}})
    page = logged_in(app, "sq-hs-jfl-sq1").get(f"/whistles/{wid}").get_data(as_text=True)
    # dispatched on 16 November 2026: the target is 16 December, the deadline 16 February 2027
    assert 'data-testid="target-due"' in page and "2026年12月16日 17:30" in page
    assert "2027年2月16日 17:30" in page
    inbox = logged_in(app, "bm-hs-cgj").get("/inbox").get_data(as_text=True)
    assert "目标：2026年12月16日" in inbox
