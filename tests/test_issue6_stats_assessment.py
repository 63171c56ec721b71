"""R17, R18, R20 over a synthetic year: hundreds of whistles with known outcomes, generated as
register / TaskOrder / Survey / Evaluation rows by a seeded random generator. Every figure of
`governance.stats.stats`, every annual aggregate and every export is compared with a value the
test computes itself in plain Python over the generated facts.

The annual assessment is driven through the real `annual_assessment` diagram (engine + handlers).
"""
from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

import tests.procedure_kit  # noqa: F401  (loads the plugins)
from tests.conftest import scratch_database

from engine import runtime  # noqa: E402
from engine.clock import frozen_at  # noqa: E402
from engine.db import Base, make_engine, make_sessionmaker, write_session  # noqa: E402
from engine.deploy import deploy, read_folder  # noqa: E402
from engine.errors import FormInvalid  # noqa: E402
from engine.models import InboxTask, Instance  # noqa: E402
from governance import assessment as A  # noqa: E402
from governance import exports, workspace  # noqa: E402
from governance.calendar import TZ  # noqa: E402
from governance.demo import load_demo  # noqa: E402
from governance.directory import locate_community, units  # noqa: E402
from governance.models import Evaluation, Officer, Survey, TaskOrder, Whistle  # noqa: E402
from governance.stats import stats  # noqa: E402
from webapp.system import FORMS_DIR, PROCESSES_DIR  # noqa: E402

GRADES = ("excellent", "good", "fair", "poor")
CATEGORIES = ("安全", "明灯", "市容环境", "交通出行", "水电气", "道路设施")
N_WHISTLES = 320
SEED = 20261127
# R20: how closed whistles were closed (None: a closure recorded without an outcome)
HANDLED_OUTCOMES = ("completed", "completed", "completed", "cannot_solve", "long_term", None)
EARLY_OUTCOMES = ("resolved_locally", "resolved_by_street", "closed_at_meeting", None)
SOLVED = ("resolved_locally", "resolved_by_street", "completed")


def d1(x):
    return None if x is None else float(Decimal(str(x)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def pct(num, den):
    return None if not den else float((Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def local_dt(day: date, hour=9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=TZ)


# -- the synthetic year ----------------------------------------------------------------------

def generate(session) -> dict:
    """Insert the synthetic rows; return the facts as plain Python dicts."""
    rng = random.Random(SEED)
    outcome_rng = random.Random(SEED + 1)     # its own sequence: the other facts stay as they were
    communities = [u.id for u in units(session, "community")]
    departments = [u.id for u in units(session, "department")] + [u.id for u in units(session, "enterprise")]
    facts = {"whistles": [], "orders": [], "surveys": [], "evaluations": []}
    order_seq = 0
    for i in range(N_WHISTLES):
        # mostly 2026, some late 2025 and some 2027 (the year filter and the next year's assessment)
        year = rng.choices((2025, 2026, 2027), (1, 8, 2))[0]
        created = local_dt(date(year, 1, 1) + timedelta(days=rng.randrange(0, 330)), rng.randrange(0, 24))
        place = locate_community(session, rng.choice(communities))
        w = dict(id=None, whistle_no=f"SYN-{i:05d}", title=f"合成事项{i}", category=rng.choice(CATEGORIES),
                 community_id=place["community_id"], street_id=place["street_id"],
                 district_id=place["district_id"], created_at=created, closed_at=None,
                 lead=None, coops=[], task_order_no=None, dispatched_at=None, report_due=None,
                 complete_due=None, reported_at=None, completed_at=None, report_overdue=False,
                 complete_overdue=False, extension_count=0, satisfaction_rate=None, outcome=None)
        orders = []
        if rng.random() < 0.72:
            rounds = 2 if rng.random() < 0.08 else 1
            issued = created + timedelta(days=rng.randrange(1, 12), hours=rng.randrange(0, 8))
            for r in range(rounds):
                order_seq += 1
                lead = rng.choice(departments)
                coops = rng.sample([d for d in departments if d != lead], rng.choice((0, 0, 1, 2)))
                report_due = issued + timedelta(days=7)
                complete_due = issued + timedelta(days=90)
                extension = 1 if rng.random() < 0.12 else 0
                if extension:
                    complete_due += timedelta(days=30)
                reported_at = issued + timedelta(days=rng.randrange(0, 11), hours=rng.randrange(0, 10)) \
                    if rng.random() < 0.9 else None
                last = r == rounds - 1
                completed_at = None
                if reported_at is not None and (last and rng.random() < 0.8):
                    completed_at = issued + timedelta(days=rng.randrange(10, 130))
                o = dict(order_no=f"RWD-SYN-{order_seq:05d}", lead=lead, coops=coops, issued_at=issued,
                         report_due=report_due, complete_due=complete_due, reported_at=reported_at,
                         completed_at=completed_at,
                         report_overdue=reported_at is None or reported_at > report_due,
                         complete_overdue=(completed_at > complete_due) if completed_at else (not last or rng.random() < 0.4),
                         extension=extension)
                orders.append(o)
                issued = issued + timedelta(days=20)
            last = orders[-1]
            w.update(lead=last["lead"], coops=list(last["coops"]), task_order_no=last["order_no"],
                     dispatched_at=last["issued_at"], report_due=last["report_due"], complete_due=last["complete_due"],
                     reported_at=last["reported_at"], completed_at=last["completed_at"],
                     report_overdue=last["report_overdue"], complete_overdue=last["complete_overdue"],
                     extension_count=sum(o["extension"] for o in orders))
            if last["completed_at"] and rng.random() < 0.92:
                w["closed_at"] = last["completed_at"] + timedelta(days=rng.randrange(1, 6))
                w["outcome"] = outcome_rng.choice(HANDLED_OUTCOMES)
        elif rng.random() < 0.5:
            w["closed_at"] = created + timedelta(days=rng.randrange(1, 10))
            w["outcome"] = outcome_rng.choice(EARLY_OUTCOMES)
        row = Whistle(id=i + 1, whistle_no=w["whistle_no"], title=w["title"], description=None, category=w["category"],
                      community_id=w["community_id"], street_id=w["street_id"], district_id=w["district_id"],
                      source="patrol", attachments=[], stage="closed" if w["closed_at"] else "handling",
                      level="district" if orders else None, lead_department_id=w["lead"],
                      cooperating_department_ids=w["coops"], task_order_no=w["task_order_no"],
                      dispatched_at=w["dispatched_at"], report_due=w["report_due"], complete_due=w["complete_due"],
                      reported_at=w["reported_at"], completed_at=w["completed_at"],
                      report_overdue=w["report_overdue"], complete_overdue=w["complete_overdue"],
                      extension_count=w["extension_count"], created_at=created, closed_at=w["closed_at"],
                      outcome=w["outcome"])
        session.add(row)
        session.flush()          # the whistle row first: its orders, surveys and evaluations refer to it
        w["id"] = row.id
        for o in orders:
            session.add(TaskOrder(order_no=o["order_no"], whistle_id=row.id, level="district",
                                  lead_department_id=o["lead"], cooperating_department_ids=o["coops"],
                                  completion_period="P3M", issued_at=o["issued_at"], report_due=o["report_due"],
                                  complete_due=o["complete_due"], reported_at=o["reported_at"],
                                  completed_at=o["completed_at"], report_overdue=o["report_overdue"],
                                  complete_overdue=o["complete_overdue"]))
            facts["orders"].append(dict(o, whistle=w))
        # surveys (R12): respondents 10/20/40 keep every rate exact in binary floating point
        if w["completed_at"] is not None and rng.random() < 0.9:
            n_surveys = 2 if rng.random() < 0.1 else 1
            for k in range(n_surveys):
                n = rng.choice((10, 20, 40))
                s = rng.randrange(0, n + 1)
                b = rng.randrange(0, n - s + 1)
                dis = rng.randrange(0, n - s - b + 1)
                rate = d1((s + b) * 100 / n)
                at = w["completed_at"] + timedelta(days=1 + k * 10)
                session.add(Survey(whistle_id=row.id, respondents=n, satisfied=s, basically_satisfied=b,
                                   dissatisfied=dis, rate=rate, at=at))
                facts["surveys"].append(dict(whistle=w, respondents=n, satisfied=s, basically=b, rate=rate, seq=k))
                w["satisfaction_rate"] = rate
            row.satisfaction_rate = w["satisfaction_rate"]
            # evaluations (R16): one per involved department of the last order
            last = orders[-1]
            ev_at = w["completed_at"] + timedelta(days=2 + 10 * (n_surveys - 1))
            for dept in [last["lead"], *last["coops"]]:
                e = dict(whistle=w, department_id=dept, grade=rng.choice(GRADES), result=rng.choice(GRADES),
                         report_overdue=last["report_overdue"], complete_overdue=last["complete_overdue"],
                         satisfaction_rate=w["satisfaction_rate"], at=ev_at)
                session.add(Evaluation(whistle_id=row.id, department_id=dept, grade=e["grade"],
                                       timeliness=rng.choice(GRADES), plan=rng.choice(GRADES), result=e["result"],
                                       attitude=rng.choice(GRADES), opinion="合成评价",
                                       facts={"role": "lead" if dept == last["lead"] else "cooperating",
                                              "task_order_no": last["order_no"],
                                              "report_overdue": e["report_overdue"],
                                              "complete_overdue": e["complete_overdue"],
                                              "extensions": last["extension"],
                                              "satisfaction_rate": e["satisfaction_rate"]},
                                       at=ev_at))
                facts["evaluations"].append(e)
        facts["whistles"].append(w)
    session.flush()
    return facts


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def year_db(request, tmp_path_factory):
    with scratch_database(request.param, tmp_path_factory.mktemp("year")) as url:
        eng = make_engine(url)
        try:
            Base.metadata.create_all(eng)
            factory = make_sessionmaker(eng)
            with write_session(factory) as session:
                load_demo(session)
                deploy(session, read_folder(PROCESSES_DIR), forms_dir=FORMS_DIR, actor="policy")
                facts = generate(session)
            yield factory, facts
        finally:
            eng.dispose()


# -- the independent computation of the R20 figures ------------------------------------------

def involves(lead, coops, dept):
    return lead == dept or dept in (coops or [])


def matches(w, f):
    created = w["created_at"].astimezone(TZ)
    if f.get("year") and created.year != f["year"]:
        return False
    if f.get("from") and created.date() < f["from"]:
        return False
    if f.get("to") and created.date() > f["to"]:
        return False
    for key, field in (("district", "district_id"), ("street", "street_id"), ("community", "community_id"),
                       ("category", "category")):
        if f.get(key) and w[field] != f[key]:
            return False
    if f.get("department") and not involves(w["lead"], w["coops"], f["department"]):
        return False
    return True


def expected_figures(facts, f, key=None):
    """{group key: figures} (key None: the totals) computed in plain Python."""
    groups = defaultdict(lambda: dict(reported=0, closed=0, solved=0, cannot_solve=0, closed_at_meeting=0,
                                      long_term=0, overdue=0, dispatched=0, extended=0, task_orders=0,
                                      r_dec=0, r_ok=0, c_dec=0, c_ok=0, depts=set(), surveys=0, resp=0, sat=0))

    def wkey(w):
        if key is None:
            return None
        if key == "month":
            return w["created_at"].astimezone(TZ).strftime("%Y-%m")
        if key == "department":
            return w["lead"]
        return w[{"district": "district_id", "street": "street_id", "community": "community_id",
                  "category": "category"}[key]]

    for w in facts["whistles"]:
        if not matches(w, f) or (key is not None and wkey(w) is None):
            continue
        g = groups[wkey(w)]
        g["reported"] += 1
        closed = w["closed_at"] is not None
        g["closed"] += closed
        g["solved"] += closed and w["outcome"] in SOLVED          # R20: solved means resolved
        for apart in ("cannot_solve", "closed_at_meeting", "long_term"):
            g[apart] += closed and w["outcome"] == apart
        g["overdue"] += bool(w["report_overdue"] or w["complete_overdue"])
        g["dispatched"] += w["dispatched_at"] is not None
        g["extended"] += w["extension_count"] > 0
    for o in facts["orders"]:
        w = o["whistle"]
        if not matches(w, {**f, "department": None}):
            continue
        if f.get("department") and not involves(o["lead"], o["coops"], f["department"]):
            continue
        k = o["lead"] if key == "department" else wkey(w)
        g = groups[k]
        g["task_orders"] += 1
        if o["reported_at"] is not None or o["report_overdue"]:
            g["r_dec"] += 1
        if o["reported_at"] is not None and o["reported_at"] <= o["report_due"]:
            g["r_ok"] += 1
        if o["completed_at"] is not None or o["complete_overdue"]:
            g["c_dec"] += 1
        if o["completed_at"] is not None and o["completed_at"] <= o["complete_due"]:
            g["c_ok"] += 1
        if o["reported_at"] is not None:
            g["depts"].add(o["lead"])
    latest = {}
    for s in facts["surveys"]:
        latest[s["whistle"]["id"]] = s          # generated in order: the last one is the latest
    for s in latest.values():
        w = s["whistle"]
        if not matches(w, f) or (key is not None and wkey(w) is None):
            continue
        g = groups[wkey(w)]
        g["surveys"] += 1
        g["resp"] += s["respondents"]
        g["sat"] += s["satisfied"] + s["basically"]
    return groups


def test_r20_totals_and_rates_equal_the_independent_computation(year_db):
    factory, facts = year_db
    cases = [dict(year=2026), dict(), dict(year=2026, district="hs"), dict(year=2026, street="ys-ys"),
             dict(year=2026, community="hs-jfl-sq1"), dict(year=2026, category="交通出行"),
             dict(year=2026, department="city-jtj"), dict(year=2026, department="hs-cgj", district="hs"),
             {"from": date(2026, 3, 1), "to": date(2026, 6, 30)}]
    with factory() as session:
        for f in cases:
            got = stats(session, breakdowns=(), **f)
            g = expected_figures(facts, f)[None]
            assert got["totals"] == {
                "reported": g["reported"], "closed": g["closed"], "solved": g["solved"],
                "cannot_solve": g["cannot_solve"], "closed_at_meeting": g["closed_at_meeting"],
                "long_term": g["long_term"], "open": g["reported"] - g["closed"],
                "overdue": g["overdue"], "dispatched": g["dispatched"], "extended": g["extended"],
                "task_orders": g["task_orders"], "departments_reported": len(g["depts"]),
                "surveys": g["surveys"], "respondents": g["resp"], "satisfied": g["sat"]}, f
            assert got["rates"] == {"on_time_report": pct(g["r_ok"], g["r_dec"]),
                                    "on_time_completion": pct(g["c_ok"], g["c_dec"]),
                                    "extension": pct(g["extended"], g["dispatched"]),
                                    "satisfaction": pct(g["sat"], g["resp"])}, f
            assert all(isinstance(v, int) for v in got["totals"].values())
    year = expected_figures(facts, dict(year=2026))[None]
    assert year["reported"] > 200   # hundreds of whistles
    # R20: closures that are not solutions exist, and none of them counts as solved
    assert year["closed"] > year["solved"] > 0 and year["cannot_solve"] and year["closed_at_meeting"] and year["long_term"]


def test_r20_breakdowns_equal_the_independent_computation(year_db):
    factory, facts = year_db
    f = dict(year=2026)
    with factory() as session:
        got = stats(session, **f)
    for by in ("district", "street", "community", "department", "category", "month"):
        groups = expected_figures(facts, f, by)
        expected = []
        for k in sorted(groups, key=str):
            g = groups[k]
            expected.append({"id": k, "reported": g["reported"], "closed": g["closed"], "solved": g["solved"],
                             "cannot_solve": g["cannot_solve"], "closed_at_meeting": g["closed_at_meeting"],
                             "long_term": g["long_term"], "open": g["reported"] - g["closed"], "overdue": g["overdue"],
                             "dispatched": g["dispatched"], "extended": g["extended"], "task_orders": g["task_orders"],
                             "on_time_report_rate": pct(g["r_ok"], g["r_dec"]),
                             "on_time_completion_rate": pct(g["c_ok"], g["c_dec"]),
                             "extension_rate": pct(g["extended"], g["dispatched"]),
                             "satisfaction_rate": pct(g["sat"], g["resp"])})
        rows = [{k: v for k, v in r.items() if k != "name"} for r in got[f"by_{by}"]]
        assert rows == expected, by
        assert all(r["name"] for r in got[f"by_{by}"])
    assert [r["id"] for r in got["by_month"]][0] == "2026-01"
    assert got["by_month"][0]["name"] == "2026年1月"


# -- the independent computation of the annual aggregates -------------------------------------

LOWER = {"excellent": "good", "good": "fair", "fair": "poor", "poor": "poor"}


def expected_scores(evaluations, settings):
    n = len(evaluations)
    on_time = sum(1 for e in evaluations if not e["report_overdue"])
    pts = settings["grade_points"]
    points = sum(pts[LOWER[e["result"]] if e["complete_overdue"] else e["result"]] for e in evaluations)
    rates = [e["satisfaction_rate"] for e in evaluations if e["satisfaction_rate"] is not None]
    response, resolution = 100.0 * on_time / n, points / n
    satisfaction = sum(rates) / len(rates) if rates else None
    opinion = sum(pts[e["grade"]] for e in evaluations) / n         # R17: the communities' grades
    parts = [(settings["response_weight"], response), (settings["resolution_weight"], resolution),
             (settings["opinion_weight"], opinion)]
    if satisfaction is not None:
        parts.append((settings["satisfaction_weight"], satisfaction))
    score = d1(sum(w * v for w, v in parts) / sum(w for w, _ in parts))
    th = settings["thresholds"]
    grade = next((g for g in ("excellent", "good", "fair") if score >= th[g]), "poor")
    return {"evaluations": n, "reported_on_time": on_time,
            "completed_on_time": sum(1 for e in evaluations if not e["complete_overdue"]),
            **{g: sum(1 for e in evaluations if e["grade"] == g) for g in GRADES},
            "response_score": d1(response), "resolution_score": d1(resolution),
            "satisfaction_score": d1(satisfaction), "opinion_score": d1(opinion), "score": score,
            "computed_grade": grade}


def expected_annual(facts, year, settings):
    by_street, by_dept = defaultdict(list), defaultdict(list)
    for e in facts["evaluations"]:
        if e["at"].astimezone(TZ).year == year:
            by_street[(e["department_id"], e["whistle"]["street_id"])].append(e)
            by_dept[e["department_id"]].append(e)
    return ({k: expected_scores(v, settings) for k, v in by_street.items()},
            {k: expected_scores(v, settings) for k, v in by_dept.items()})


def _complete_all(factory, task, data_for, at):
    """Every ready `task` (any instance) completed by an officer of its unit who finds it in their
    inbox (the officers' path), with data_for(inbox row, form) → data."""
    done = 0
    while True:
        with factory() as session, frozen_at(at):
            row = session.scalars(select(InboxTask).where(InboxTask.task == task).order_by(InboxTask.id)).first()
            if row is None:
                return done
            officer = session.scalars(select(Officer).where(Officer.role == row.role,
                                                            Officer.unit_id == row.unit_id)).first()
            assert officer is not None, f"orphan task {task} of unit {row.unit_id}"
            session.expunge(officer)
            assert row.id in {i.id for i in workspace.inbox(session, officer, task=task, per_page=200).items}
            data = data_for(row, workspace.task_form(session, row))
        with write_session(factory) as session, frozen_at(at):
            instance = workspace.complete_task(session, officer, row.id, data)
            assert instance.status != "incident", instance.incident
        done += 1


def _street_data(factory, year, at):
    """The street's form offers only the departments it evaluated this year (R17); naming another
    one is refused as a field error before anything runs."""
    def data_for(row, form):
        with factory() as session:
            street_id = runtime.task_data(session, session.get(Instance, row.instance_id), row.id)["street_id"]
            assessable = A.assessable_departments(session, year, street_id=street_id)
            offered = [c["const"] for c in form["properties"]["poor_department_ids"]["items"]["oneOf"]]
            assert assessable and offered == assessable
            outsider = next(u.id for u in units(session, "department") if u.id not in assessable)
            officer = session.scalars(select(Officer).where(Officer.role == "street", Officer.unit_id == street_id)).first()
            session.expunge(officer)
        with pytest.raises(FormInvalid) as refused, write_session(factory) as session, frozen_at(at):
            workspace.complete_task(session, officer, row.id, {"opinion": "调整", "poor_department_ids": [outsider]})
        assert [e.field.split(".")[0] for e in refused.value.errors] == ["poor_department_ids"]
        return {"opinion": "同意系统计算等次"}
    return data_for


def _run_year(factory, year, at):
    with write_session(factory) as session:
        instance = A.start_assessment(session, year, actor="zzb-mas", at=at)
        assert instance.status == "running", instance.incident
    streets = _complete_all(factory, "street_recommendation", _street_data(factory, year, at), at)
    reviews = _complete_all(factory, "org_review", lambda r, form: {"opinion": "审核同意"}, at)
    districts = _complete_all(factory, "district_work_assessment",
                              lambda r, form: {"grade": "good", "opinion": "工作扎实"}, at)
    return streets, reviews, districts


def _compare(results, expected_street, expected_dept):
    got_street = {(r["department_id"], r["street_id"]): r for r in results["by_street"]}
    got_dept = {r["department_id"]: r for r in results["departments"]}
    assert set(got_street) == set(expected_street)
    assert set(got_dept) == set(expected_dept)
    for key, exp in expected_street.items():
        assert {k: got_street[key][k] for k in exp} == exp, key
    for key, exp in expected_dept.items():
        assert {k: got_dept[key][k] for k in exp} == exp, key


def test_r17_r18_annual_assessment_through_the_diagram_and_new_weights_only_change_the_next_year(year_db):
    factory, facts = year_db
    # the timer start of 2026 is scheduled during the year (it fires on the first working day of
    # 2027); city_org starts the year by hand on New Year's Day and takes over
    with write_session(factory) as session:
        scheduled = A.schedule_year(session, 2026, actor="system", at=datetime(2026, 6, 1, 9, tzinfo=TZ))
        assert scheduled is not None and scheduled.instance_id is not None
        v1 = A.save_settings(session, actor="policy", response_weight=30, resolution_weight=40,
                             satisfaction_weight=30, opinion_weight=20, note="第一版")
    streets, reviews, districts = _run_year(factory, 2026, datetime(2027, 1, 1, 10, tzinfo=TZ))
    exp_street, exp_dept = expected_annual(facts, 2026, v1)
    # R17: the whole year, December included
    assert any(e["at"].astimezone(TZ).month == 12 and e["at"].astimezone(TZ).year == 2026 for e in facts["evaluations"])
    assert streets == len({s for _, s in exp_street})          # one recommendation per street (R17)
    with factory() as session:
        results = A.annual_results(session, 2026)
    assert results["frozen"] and results["status"] == "published" and results["settings_version"] == v1["version"]
    assert results["settings"]["response_weight"] == 30 and results["settings"]["opinion_weight"] == 20
    _compare(results, exp_street, exp_dept)
    # R17: district departments are reviewed by their district, city departments by the city
    assert reviews == len({r["org_unit_id"] for r in results["departments"]})
    for r in results["departments"]:
        assert r["org_unit_id"] == ("mas" if r["department_id"].startswith("city-") else r["department_id"].split("-")[0])
        assert r["final_grade"] == r["reviewed_grade"] == r["recommended_grade"]
    # R18: the city assessed 花山区 and 雨山区's own work, with their figures of the year
    assert districts == 2
    assert [d["district_id"] for d in results["district_work"]] == ["hs", "ys"]
    with factory() as session:
        for d in results["district_work"]:
            assert d["grade"] == "good"
            assert d["figures"]["totals"] == stats(session, year=2026, district=d["district_id"])["totals"]
    frozen_before = results

    # policy staff change the weights: 2027 uses them, frozen 2026 does not change
    with write_session(factory) as session:
        v2 = A.save_settings(session, actor="policy", response_weight=60, resolution_weight=20,
                             satisfaction_weight=20, opinion_weight=40, thresholds={"excellent": 92, "good": 82, "fair": 65},
                             note="第二版")
    assert v2["version"] == v1["version"] + 1
    with write_session(factory) as session:
        with pytest.raises(A.AssessmentError):
            A.aggregate(session, 2026)                           # a frozen year is never recomputed
    _run_year(factory, 2027, datetime(2028, 1, 2, 9, tzinfo=TZ))
    with factory() as session:
        assert A.annual_results(session, 2026) == frozen_before
        results27 = A.annual_results(session, 2027)
        assert [s["version"] for s in A.settings_history(session)] == [v1["version"], v2["version"]]
    assert results27["settings_version"] == v2["version"] and results27["frozen"]
    exp27_street, exp27_dept = expected_annual(facts, 2027, v2)
    _compare(results27, exp27_street, exp27_dept)
    old27_street, _ = expected_annual(facts, 2027, v1)
    assert any(old27_street[k]["score"] != exp27_street[k]["score"] for k in exp27_street)
    # the 2026 timer instance (due 09:00 on 4 January 2027, the first working day), superseded by
    # the manual start, ends without a second run
    from engine import timers
    assert A.start_at(2026) == datetime(2027, 1, 4, 9, tzinfo=TZ)
    assert timers.sweep(factory, now=datetime(2027, 1, 4, 8, 59, tzinfo=TZ)).fired == []
    result = timers.sweep(factory, now=datetime(2027, 1, 4, 9, 1, tzinfo=TZ))
    assert len(result.fired) == 1 and not result.incidents
    with factory() as session:
        assert A.annual_results(session, 2026) == frozen_before
        _assessment_export_holds_the_frozen_results(session, frozen_before)


def test_r16_evaluation_summary_by_department(year_db):
    factory, facts = year_db
    with factory() as session:
        settings = A.current_settings(session)
        rows = A.evaluation_summary(session, 2026, by="department", settings=settings)
    _, exp = expected_annual(facts, 2026, settings)
    assert {r["department_id"]: r["evaluations"] for r in rows} == {k: v["evaluations"] for k, v in exp.items()}
    assert {r["department_id"]: r["score"] for r in rows} == {k: v["score"] for k, v in exp.items()}


# -- exports ---------------------------------------------------------------------------------

def _sheet_rows(data: bytes, sheet: str | None = None):
    wb = load_workbook(io.BytesIO(data))
    ws = wb[sheet] if sheet else wb.worksheets[0]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_r20_exports_open_with_openpyxl_and_hold_the_numbers_of_stats(year_db):
    factory, facts = year_db
    calls = []
    with factory() as session:
        figures = stats(session, year=2026)
        data = exports.export_register(session, "xlsx", year=2026, progress=lambda d, t: calls.append((d, t)))
        rows = _sheet_rows(data)
        assert rows[0] == exports.REGISTER_HEADERS and rows[0][0] == "编号"
        body = rows[1:]
        assert len(body) == figures["totals"]["reported"]
        head = rows[0]
        assert sum(1 for r in body if r[head.index("办结归档时间")]) == figures["totals"]["closed"]
        assert sum(1 for r in body if r[head.index("办结方式")] in ("社区就地解决", "街道协调解决", "部门办结")) \
            == figures["totals"]["solved"]
        assert sum(1 for r in body if r[head.index("任务单号")]) == figures["totals"]["dispatched"]
        assert sum(1 for r in body if r[head.index("报到逾期")] == "是" or r[head.index("办结逾期")] == "是") \
            == figures["totals"]["overdue"]
        assert calls[-1] == (len(body), len(body)) and len(calls) >= 2
        # CSV: same rows
        text = exports.export_register(session, "csv", year=2026).decode("utf-8-sig")
        assert len(list(csv.reader(io.StringIO(text)))) == len(body) + 1

        stats_book = exports.export_stats(session, "xlsx", year=2026)
        summary = dict((r[0], r[1]) for r in _sheet_rows(stats_book, "统计汇总")[1:])
        assert summary["吹哨事项"] == figures["totals"]["reported"]
        assert summary["报到部门数"] == figures["totals"]["departments_reported"]
        assert summary["按时报到率(%)"] == figures["rates"]["on_time_report"]
        assert summary["满意率(%)"] == figures["rates"]["satisfaction"]
        by_district = _sheet_rows(stats_book, "按区")[1:]
        assert [(r[1], r[3], r[4]) for r in by_district] == \
            [(r["id"], r["reported"], r["solved"]) for r in figures["by_district"]]

        evals = _sheet_rows(exports.export_evaluations(session, "xlsx", year=2026))
        assert len(evals) - 1 == sum(1 for e in facts["evaluations"] if e["at"].astimezone(TZ).year == 2026)


def _assessment_export_holds_the_frozen_results(session, results):
    """R17: the export of a frozen year holds its results (part of the annual assessment story)."""
    rows = _sheet_rows(exports.export_assessment(session, 2026, "xlsx"), "2026年度部门考核")
    head = rows[0]
    assert head[:2] == ["部门代码", "部门"]
    assert [(r[0], r[head.index("综合得分")], r[head.index("评价次数")]) for r in rows[1:]] == \
        [(d["department_id"], d["score"], d["evaluations"]) for d in results["departments"]]
    text = exports.export_assessment(session, 2026, "csv").decode("utf-8-sig")
    assert "【城区本级工作考核】" in text and "花山区" in text