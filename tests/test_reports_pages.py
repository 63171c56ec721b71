"""Issue 6 UI over HTTP: the dashboard and GET /api/v1/stats show exactly the figures of
governance.stats for a small generated data set; role restrictions; the public summary; exports
(direct and as a background job) open with openpyxl and hold the page's numbers; the evaluation
summary; the annual assessment started through the web; weights edited as a new version.
One database per kind for the module (SQLite, and PostgreSQL with TEST_POSTGRES_URL)."""
from __future__ import annotations

import csv
import io
import random
import time
from datetime import datetime, timedelta

import pytest
from lxml import html as lhtml
from openpyxl import load_workbook
from sqlalchemy import select

import tests.procedure_kit  # noqa: F401  (loads the plugins)
from tests.conftest import scratch_database

from engine.db import write_session  # noqa: E402
from governance import assessment as A  # noqa: E402
from governance.calendar import TZ  # noqa: E402
from governance.directory import locate_community, units  # noqa: E402
from governance import export_jobs  # noqa: E402
from governance.models import Evaluation, ExportJob, Officer, Survey, TaskOrder, Whistle  # noqa: E402
from governance.stats import BREAKDOWNS, stats  # noqa: E402
from tests.webkit import api_token, csrf_token, demo_app, dispose, logged_in, make_app  # noqa: E402

CATEGORIES = ("安全", "明灯", "市容环境", "交通出行", "水电气")
GRADES = ("excellent", "good", "fair", "poor")


def generate(factory, n: int = 60, seed: int = 611) -> None:
    """n whistles in 2025–2026 with task orders, surveys and evaluations (plain rows)."""
    rng = random.Random(seed)
    outcomes = random.Random(seed + 1)      # R20: how closed whistles were closed
    with write_session(factory) as session:
        communities = [u.id for u in units(session, "community")]
        depts = [u.id for u in units(session, "department")]
        for i in range(n):
            year = 2025 if i % 6 == 0 else 2026
            created = datetime(year, 1, 1, 9, tzinfo=TZ) + timedelta(days=rng.randrange(0, 300), hours=rng.randrange(0, 12))
            place = locate_community(session, rng.choice(communities))
            w = Whistle(whistle_no=f"RPT-{i:04d}", title=f"测试事项{i}", category=rng.choice(CATEGORIES),
                        community_id=place["community_id"], street_id=place["street_id"],
                        district_id=place["district_id"], source="patrol", attachments=[], stage="handling",
                        created_at=created, cooperating_department_ids=[])
            session.add(w)
            session.flush()
            if rng.random() < 0.75:
                lead = rng.choice(depts)
                coops = rng.sample([d for d in depts if d != lead], rng.choice((0, 1)))
                issued = created + timedelta(days=rng.randrange(1, 5))
                reported = issued + timedelta(days=rng.randrange(0, 10)) if rng.random() < 0.9 else None
                completed = issued + timedelta(days=rng.randrange(10, 120)) if reported and rng.random() < 0.8 else None
                report_due, complete_due = issued + timedelta(days=7), issued + timedelta(days=90)
                ext = 1 if rng.random() < 0.15 else 0
                order = TaskOrder(order_no=f"RWD-RPT-{i:04d}", whistle_id=w.id, level="district", lead_department_id=lead,
                                  cooperating_department_ids=coops, completion_period="P3M", issued_at=issued,
                                  report_due=report_due, complete_due=complete_due, reported_at=reported,
                                  completed_at=completed, report_overdue=reported is None or reported > report_due,
                                  complete_overdue=bool(completed and completed > complete_due))
                session.add(order)
                w.lead_department_id, w.cooperating_department_ids = lead, coops
                w.task_order_no, w.dispatched_at, w.report_due, w.complete_due = order.order_no, issued, report_due, complete_due
                w.reported_at, w.completed_at, w.extension_count = reported, completed, ext
                w.report_overdue, w.complete_overdue = order.report_overdue, order.complete_overdue
                if completed:
                    w.closed_at, w.stage = completed + timedelta(days=2), "closed"
                    w.outcome = outcomes.choice(("completed", "completed", "cannot_solve", "long_term"))
                    n_resp = rng.choice((10, 20))
                    s = rng.randrange(0, n_resp + 1)
                    b = rng.randrange(0, n_resp - s + 1)
                    rate = round((s + b) * 100 / n_resp, 1)
                    session.add(Survey(whistle_id=w.id, respondents=n_resp, satisfied=s, basically_satisfied=b,
                                       dissatisfied=n_resp - s - b, rate=rate, at=completed + timedelta(days=1)))
                    w.satisfaction_rate = rate
                    for dept in [lead, *coops]:
                        session.add(Evaluation(whistle_id=w.id, department_id=dept, grade=rng.choice(GRADES),
                                               timeliness=rng.choice(GRADES), plan=rng.choice(GRADES),
                                               result=rng.choice(GRADES), attitude=rng.choice(GRADES), opinion="测试评价",
                                               facts={"role": "lead" if dept == lead else "cooperating",
                                                      "task_order_no": order.order_no,
                                                      "report_overdue": order.report_overdue,
                                                      "complete_overdue": order.complete_overdue,
                                                      "extensions": ext, "satisfaction_rate": rate},
                                               at=completed + timedelta(days=2)))
            elif rng.random() < 0.5:
                w.closed_at, w.stage = created + timedelta(days=3), "closed"
                w.outcome = outcomes.choice(("resolved_locally", "resolved_by_street", "closed_at_meeting"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    with scratch_database(request.param, tmp_path_factory.mktemp("reports-db")) as url:
        with demo_app(url, tmp_path_factory.mktemp("reports"), seed=generate) as site:
            yield site



def page_figures(body: str) -> dict:
    """The totals, rates and breakdown rows a dashboard page shows (from its markup)."""
    doc = lhtml.fromstring(body)
    totals = {el.get("data-testid")[6:]: int(el.get("data-value")) for el in doc.xpath('//*[starts-with(@data-testid, "total-")]')}
    rates = {el.get("data-testid")[5:]: (float(el.get("data-value")) if el.get("data-value") else None)
             for el in doc.xpath('//*[starts-with(@data-testid, "rate-")]')}
    shown_rates = {el.get("data-testid")[5:]: el.text_content().strip() for el in doc.xpath('//*[starts-with(@data-testid, "rate-")]')}
    rows = {}
    for tr in doc.xpath("//tr[@data-row]"):
        by, key = tr.get("data-row").split(":", 1)
        rows.setdefault(by, {})[key] = {td.get("data-k"): td.text_content().strip() for td in tr.xpath("td[@data-k]")}
    return {"totals": totals, "rates": rates, "shown_rates": shown_rates, "rows": rows}


def shown(value) -> str:
    return "—" if value is None else f"{value:.1f}%"


def assert_page_matches(body: str, expected: dict):
    got = page_figures(body)
    for key in ("reported", "solved", "cannot_solve", "closed_at_meeting", "long_term", "closed", "open", "overdue",
                "departments_reported"):
        assert got["totals"][key] == expected["totals"][key], key
    assert got["rates"] == expected["rates"]
    assert got["shown_rates"] == {k: shown(v) for k, v in expected["rates"].items()}
    for by in BREAKDOWNS:
        exp_rows = expected[f"by_{by}"]
        got_rows = got["rows"].get(by, {})
        assert list(got_rows) == [str(r["id"]) for r in exp_rows], by
        for r in exp_rows:
            cells = got_rows[str(r["id"])]
            for k in ("reported", "solved", "cannot_solve", "closed_at_meeting", "long_term", "closed", "open",
                      "overdue", "dispatched", "extended", "task_orders"):
                assert cells[k] == str(r[k]), (by, r["id"], k)
            for k in ("on_time_report_rate", "on_time_completion_rate", "extension_rate", "satisfaction_rate"):
                assert cells[k] == shown(r[k]), (by, r["id"], k)


FILTER_SETS = [{}, {"year": "2026"}, {"year": "2026", "district": "hs", "category": "交通出行"},
               {"from": "2026-03-01", "to": "2026-08-31", "department": "hs-cgj"}]


@pytest.mark.parametrize("filters", FILTER_SETS, ids=["all", "year", "district-category", "dates-department"])
def test_dashboard_and_api_show_exactly_the_figures_of_stats(site, filters):
    app, factory = site
    with factory() as session:
        expected = stats(session, **filters)
    assert expected["totals"]["reported"] > 0 or filters.get("department")
    res = logged_in(app, "zzb-mas").get("/dashboard", query_string=filters)
    assert res.status_code == 200
    assert_page_matches(res.get_data(as_text=True), expected)
    api = app.test_client().get("/api/v1/stats", query_string=filters, headers=api_token(app, "zzb-mas"))
    assert api.status_code == 200
    assert api.get_json() == expected


def test_district_org_sees_only_its_own_district(site):
    app, factory = site
    with factory() as session:
        expected = stats(session, district="hs")
        other = stats(session, district="ys")
    assert expected["totals"]["reported"] and other["totals"]["reported"]
    client = logged_in(app, "zzb-hs")
    body = client.get("/dashboard").get_data(as_text=True)
    assert_page_matches(body, expected)
    assert client.get("/dashboard?district=ys").status_code == 403
    headers = api_token(app, "zzb-hs")
    api = app.test_client().get("/api/v1/stats", headers=headers)
    assert api.get_json() == expected and api.get_json()["filters"]["district"] == "hs"
    refused = app.test_client().get("/api/v1/stats?district=ys", headers=headers)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"


def test_roles_without_access_get_403(site):
    app, _factory = site
    anonymous = app.test_client()
    assert anonymous.get("/dashboard").status_code == 302                       # to the login page
    assert anonymous.get("/api/v1/stats").status_code == 401
    for user in ("sq-hs-jfl-sq1", "bm-hs-cgj", "jd-hs-jfl", "policy"):
        client = logged_in(app, user)
        assert client.get("/dashboard").status_code == 403, user
        assert client.get("/exports/register.xlsx").status_code == 403, user
        res = app.test_client().get("/api/v1/stats", headers=api_token(app, user))
        assert res.status_code == 403 and res.get_json()["error"]["code"] == "forbidden", user
    community, department = logged_in(app, "sq-hs-jfl-sq1"), logged_in(app, "bm-hs-cgj")
    for path in ("/evaluations", "/joint", "/assessment", "/assessment/settings", "/assessment/2026"):
        assert community.get(path).status_code == 403, path
        assert department.get(path).status_code == 403, path
    assert community.get("/mechanisms").status_code == 200                    # every officer
    city = logged_in(app, "zzb-mas")
    page = city.get("/assessment/settings").get_data(as_text=True)
    assert city.post("/assessment/settings", data={"csrf_token": csrf_token(page)}).status_code == 403
    policy = logged_in(app, "policy")
    page = policy.get("/assessment").get_data(as_text=True)
    assert policy.post("/assessment/start", data={"csrf_token": csrf_token(page), "year": "2026"}).status_code == 403
    street = logged_in(app, "jd-hs-jfl")
    assert street.get("/evaluations?street=ys-am").status_code == 403
    assert street.get("/exports/evaluations.xlsx?street=ys-am").status_code == 403


def test_public_summary_needs_no_login_and_shows_only_aggregates(site):
    app, factory = site
    with factory() as session:
        expected = stats(session, year=2026)
    res = app.test_client().get("/public/summary?year=2026")
    assert res.status_code == 200
    doc = lhtml.fromstring(res.get_data(as_text=True))
    value = lambda key: doc.xpath(f'//*[@data-testid="public-{key}"]')[0].text_content().strip()  # noqa: E731
    assert value("reported") == str(expected["totals"]["reported"])
    assert value("solved") == str(expected["totals"]["solved"])
    assert value("departments_reported") == str(expected["totals"]["departments_reported"])
    assert value("satisfaction") == shown(expected["rates"]["satisfaction"])
    assert "RPT-" not in res.get_data(as_text=True)                            # no individual matters


def _rows(data: bytes, sheet=None):
    wb = load_workbook(io.BytesIO(data), read_only=True)
    ws = wb[sheet] if sheet else wb.worksheets[0]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    width = max((len(r) for r in rows), default=0)
    return [r + [None] * (width - len(r)) for r in rows]      # read-only mode drops empty trailing cells


def test_exports_open_with_openpyxl_and_hold_the_numbers_of_the_page(site):
    app, factory = site
    filters = {"year": "2026", "district": "hs"}
    client = logged_in(app, "zzb-mas")
    got = page_figures(client.get("/dashboard", query_string=filters).get_data(as_text=True))

    res = client.get("/exports/stats.xlsx", query_string=filters)
    assert res.status_code == 200 and res.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in res.headers["Content-Disposition"]
    summary = dict(_rows(res.data, "统计汇总")[1:])
    assert summary["吹哨事项"] == got["totals"]["reported"]
    assert summary["已解决"] == got["totals"]["solved"]
    assert summary["已办结（合计）"] == got["totals"]["closed"]
    assert summary["无法解决"] == got["totals"]["cannot_solve"]
    assert summary["逾期事项"] == got["totals"]["overdue"]
    assert summary["报到部门数"] == got["totals"]["departments_reported"]
    assert summary["满意率(%)"] == got["rates"]["satisfaction"]
    by_street = _rows(res.data, "按街道")
    assert by_street[0][0] == "维度" and "按时报到率(%)" in by_street[0]
    assert {r[1]: r[3] for r in by_street[1:]} == {k: int(v["reported"]) for k, v in got["rows"]["street"].items()}

    register = _rows(client.get("/exports/register.xlsx", query_string=filters).data)
    assert register[0][:3] == ["编号", "标题", "类别"]
    assert len(register) - 1 == got["totals"]["reported"]
    assert sum(1 for r in register[1:] if r[headers_index(register, "办结归档时间")]) == got["totals"]["closed"]
    text = client.get("/exports/register.csv", query_string=filters).data.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) - 1 == got["totals"]["reported"]

    # the same export as a background job, with progress polled as the page does
    status_url = start_export_job(client, filters)
    state = poll_export_job(client, status_url)
    assert state["state"] == "done" and state["percent"] == 100 and state["total"] == got["totals"]["reported"]
    assert _rows(client.get(state["download_url"]).data) == register
    assert logged_in(app, "zzb-hs").get(status_url).status_code == 404          # only its owner sees a job


def test_r20_a_background_export_is_reported_and_handed_out_by_any_web_process(site, tmp_path):
    """Jobs live in the database: with several web processes (gunicorn --workers), the process
    polled or asked for the file need not be the one that runs the export."""
    app, factory = site
    other = make_app(app.config["DATABASE_URL"], tmp_path)          # a second web process
    try:
        filters = {"year": "2026", "district": "hs"}
        runner, poller = logged_in(app, "zzb-mas"), logged_in(other, "zzb-mas")
        expected = _rows(runner.get("/exports/register.xlsx", query_string=filters).data)
        status_url = start_export_job(runner, filters)
        state = poll_export_job(poller, status_url)
        assert state["state"] == "done" and state["percent"] == 100
        assert _rows(poller.get(state["download_url"]).data) == expected
        assert logged_in(other, "zzb-hs").get(status_url).status_code == 404     # still only its owner's

        # a job whose process ended while it ran is reported as interrupted, not running for ever
        with factory() as session:
            owner = session.scalar(select(Officer.id).where(Officer.username == "zzb-mas"))
        lost = export_jobs.create(factory, owner, "lost.xlsx", "xlsx")
        with write_session(factory) as session:
            session.get(ExportJob, lost).updated_at = poller.application.config["CLOCK"]() - export_jobs.SILENT - timedelta(minutes=1)
        state = poller.get(f"/exports/jobs/{lost}?lang=en").get_json()
        assert state["state"] == "failed" and state["error"] == "The export was interrupted; please export again."
        assert poller.get(f"/exports/jobs/{lost}/file").status_code == 404
    finally:
        dispose(other)


def start_export_job(client, filters) -> str:
    """Start the register export as the dashboard's button does; returns the status URL."""
    page = client.get("/dashboard").get_data(as_text=True)
    started = client.post("/exports/register.xlsx/jobs", data=filters,
                          headers={"X-CSRFToken": csrf_token(page) or _form_csrf(page)})
    assert started.status_code == 202
    return started.get_json()["status_url"]


def poll_export_job(client, status_url) -> dict:
    """Poll as the page does until the job is no longer running (10 s at most)."""
    for _ in range(200):
        state = client.get(status_url).get_json()
        if state["state"] != "running":
            return state
        time.sleep(0.05)
    return state


def headers_index(rows, name):
    return rows[0].index(name)


def _form_csrf(page: str) -> str:
    import re
    return re.search(r'data-csrf="([^"]+)"', page).group(1)


def test_evaluation_summary_page_and_export_agree(site):
    app, factory = site
    client = logged_in(app, "zzb-hs")
    body = client.get("/evaluations?year=2026").get_data(as_text=True)
    doc = lhtml.fromstring(body)
    page_counts = {tr.get("data-row"): int(tr.xpath('td[@data-k="evaluations"]')[0].text_content())
                   for tr in doc.xpath('//table[@data-testid="evaluation-table"]//tr[@data-row]')}
    with factory() as session:
        expected = {r["department_id"]: r["evaluations"]
                    for r in A.evaluation_summary(session, 2026, by="department", district_id="hs")}
    assert page_counts == expected and expected
    rows = _rows(client.get("/exports/evaluations.xlsx?year=2026").data)
    assert rows[0][:2] == ["事项编号", "标题"] and len(rows) - 1 == sum(expected.values())
    assert {r[2] for r in rows[1:]} == {"花山区"}                                 # district_org: its district only


def test_assessment_started_through_the_web_with_results_and_export(site):
    app, factory = site
    city = logged_in(app, "zzb-mas")
    page = city.get("/assessment").get_data(as_text=True)
    assert 'data-testid="empty-state"' in page or 'data-testid="year-table"' in page
    # R17: not before the year has ended (December's evaluations belong to it)
    app.config["CLOCK"].set(datetime(2026, 12, 31, 17, 0, tzinfo=TZ))
    early = city.post("/assessment/start", data={"csrf_token": csrf_token(page), "year": "2026"}, follow_redirects=True)
    assert "未能启动" in early.get_data(as_text=True) and "尚未结束" in early.get_data(as_text=True)
    app.config["CLOCK"].set(datetime(2027, 1, 4, 9, 30, tzinfo=TZ))
    res = city.post("/assessment/start", data={"csrf_token": csrf_token(page), "year": "2026"})
    assert res.status_code == 302 and res.headers["Location"].endswith("/assessment/2026")
    body = city.get("/assessment/2026").get_data(as_text=True)
    assert "已启动 2026 年度考核" in body and "未冻结" in body
    with factory() as session:
        data = A.annual_results(session, 2026)
    doc = lhtml.fromstring(body)
    shown_rows = doc.xpath('//table[@data-testid="dept-results"]//tr[@data-row]')
    assert [tr.get("data-row") for tr in shown_rows] == [r["department_id"] for r in data["departments"]]
    rows = _rows(city.get("/exports/assessment.xlsx?year=2026").data, "2026年度部门考核")
    assert [r[0] for r in rows[1:]] == [r["department_id"] for r in data["departments"]]
    assert [r[17] for r in rows[1:]] == [r["score"] for r in data["departments"]]
    assert [r[16] for r in rows[1:]] == [r["opinion_score"] for r in data["departments"]]
    again = city.post("/assessment/start", data={"csrf_token": csrf_token(page), "year": "2026"}, follow_redirects=True)
    assert "未能启动" in again.get_data(as_text=True)
    assert "尚未开始" in city.get("/assessment/2019").get_data(as_text=True)


def test_policy_staff_edit_weights_as_a_new_version(site):
    app, factory = site
    with factory() as session:
        before = len(A.settings_history(session))
    policy = logged_in(app, "policy")
    page = policy.get("/assessment/settings").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "response_weight": "50", "resolution_weight": "30",
            "satisfaction_weight": "20", "opinion_weight": "25", "th_excellent": "92", "th_good": "82", "th_fair": "62",
            "gp_excellent": "100", "gp_good": "85", "gp_fair": "70", "gp_poor": "50", "note": "提高响应权重"}
    res = policy.post("/assessment/settings", data=form, follow_redirects=True)
    body = res.get_data(as_text=True)
    assert res.status_code == 200 and "已保存评分设置第" in body
    with factory() as session:
        history = A.settings_history(session)
    assert len(history) == before + 1
    assert history[-1]["response_weight"] == 50 and history[-1]["thresholds"]["excellent"] == 92
    assert history[-1]["opinion_weight"] == 25
    assert history[-1]["created_by"] == "policy" and history[-1]["note"] == "提高响应权重"
    assert f'data-version="{history[-1]["version"]}"' in body
    bad = policy.post("/assessment/settings", data={**form, "th_good": "95"})         # good above excellent
    assert bad.status_code == 422 and "等次分数线" in bad.get_data(as_text=True)
    bad = policy.post("/assessment/settings", data={**form, "response_weight": "abc"})
    assert bad.status_code == 422 and 'value="abc"' in bad.get_data(as_text=True)     # input kept
    with factory() as session:
        assert len(A.settings_history(session)) == before + 1


def test_openapi_documents_the_stats_endpoint(site):
    app, _factory = site
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/stats"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"year", "from", "to", "district", "street", "community",
                                                     "department", "category"}
    assert {"200", "401", "403", "422"} <= set(op["responses"])
    assert "Stats" in doc["components"]["schemas"] and "StatsRow" in doc["components"]["schemas"]
    bad = app.test_client().get("/api/v1/stats?from=yesterday", headers=api_token(app, "zzb-mas"))
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid"


def test_r20_dashboard_and_public_summary_define_every_figure(site):
    """Each figure carries a short definition next to it (Chinese, English from the catalogue);
    'solved' says it counts only resolved closures, and the closures counted apart are shown."""
    from webapp.views.reports import FIGURE_DEFINITIONS
    app, factory = site
    with factory() as session:
        expected = stats(session, year=2026)
    assert expected["totals"]["closed"] > expected["totals"]["solved"]       # closures that are not solutions
    client = logged_in(app, "zzb-mas")
    for lang, solved_words in (("zh", "以解决办结的事项"), ("en", "Matters closed as resolved")):
        doc = lhtml.fromstring(client.get(f"/dashboard?year=2026&lang={lang}").get_data(as_text=True))
        defined = {el.get("data-testid")[7:]: el.text_content().strip()
                   for el in doc.xpath('//*[starts-with(@data-testid, "define-")]')}
        shown = {el.get("data-testid")[6:] for el in doc.xpath('//*[starts-with(@data-testid, "total-")]')} | \
                {el.get("data-testid")[5:] for el in doc.xpath('//*[starts-with(@data-testid, "rate-")]')}
        assert shown <= set(defined) and all(defined.values()), lang
        assert solved_words in defined["solved"], lang
        public = lhtml.fromstring(app.test_client().get(f"/public/summary?year=2026&lang={lang}").get_data(as_text=True))
        value = lambda key: public.xpath(f'//*[@data-testid="public-{key}"]')[0].text_content().strip()  # noqa: E731
        for key in ("solved", "cannot_solve", "closed_at_meeting", "long_term"):
            assert value(key) == str(expected["totals"][key]), (lang, key)
            assert public.xpath(f'//*[@data-testid="define-{key}"]')[0].text_content().strip(), (lang, key)
        assert solved_words in public.xpath('//*[@data-testid="define-solved"]')[0].text_content()
    assert set(FIGURE_DEFINITIONS) >= {"reported", "solved", "cannot_solve", "closed_at_meeting", "long_term",
                                       "closed", "open", "overdue", "departments_reported", "satisfaction"}
