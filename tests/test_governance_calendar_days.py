"""The holiday arrangement entered by administrators (calendar_days): it overrides the
`chinese-calendar` package (and its Monday–Friday fallback for years it does not know) in the
working-day deadlines, the consultation reply deadline (R7) and the joint-meeting date (R3); the
CSV import, the administrators' page and `whistle calendar import`.

The 2027 dates below are a made-up Spring Festival arrangement (holidays 5–14 February, a make-up
working Saturday on 20 February); every expectation that depends on a day not entered is
computed from `is_workday` without entries, so a later package release cannot break it."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

import handlers  # noqa: F401  (registers the handlers)
from engine.db import Base, make_engine, make_sessionmaker, write_session
from engine.registry import HandlerContext, get_handler
from governance.calendar import (TZ, add_working_days, iso, is_workday, package_covers, package_last_year,
                                 working_deadline)
from governance.calendar_days import (CalendarError, CalendarImportError, calendar_adjustments, import_calendar_csv,
                                      list_days, remove_day, set_day)
from governance.consultations import consultation_due, open_consultations
from governance.meetings import default_meeting_day, next_joint_meeting
from governance.models import CalendarDay
from tests.handlerkit import registered_whistle
from tests.webkit import csrf_token, demo_app, login

SPRING_FESTIVAL = {date(2027, 2, 5) + timedelta(days=i): False for i in range(10)}   # 5–14 February
MAKE_UP = {date(2027, 2, 20): True}                                                 # a Saturday
ADJUSTMENTS = {**SPRING_FESTIVAL, **MAKE_UP}

GOOD_CSV = ("date,type,name,note\n"
            "2027-02-05,休,春节,国办发明电〔2026〕X号\n"
            "2027-02-08,holiday,春节,\n"
            "2027/2/20,班,春节,\n"
            "2027-10-09,Workday,国庆节,\n")


def _next_workday(day: date, adjustments=None) -> date:
    """Reference: the first working day after `day`, one day at a time."""
    day += timedelta(days=1)
    while not is_workday(day, adjustments):
        day += timedelta(days=1)
    return day


def _enter(session, adjustments: dict, actor="test"):
    for day, workday in adjustments.items():
        set_day(session, day, workday, "春节", None, actor)
    session.flush()


# -- the pure functions ----------------------------------------------------------------------

def test_package_coverage_is_known():
    last = package_last_year()
    assert last >= 2026 and package_covers(last) and not package_covers(last + 1)
    assert package_covers(2004) and not package_covers(2003)


def test_entered_holiday_and_make_up_saturday_change_working_days():
    assert date(2027, 2, 4).weekday() == 3                       # a Thursday
    # a holiday entered on weekdays: the next working day is after the whole holiday
    after_holiday = add_working_days(date(2027, 2, 4), 1, ADJUSTMENTS)
    assert after_holiday == _next_workday(date(2027, 2, 14)) and after_holiday > date(2027, 2, 14)
    assert add_working_days(date(2027, 2, 4), 1) == _next_workday(date(2027, 2, 4))
    assert add_working_days(date(2027, 2, 4), 1) < date(2027, 2, 14)
    # the make-up Saturday counts as a working day
    assert date(2027, 2, 20).weekday() == 5
    assert add_working_days(date(2027, 2, 19), 1, ADJUSTMENTS) == date(2027, 2, 20)
    assert add_working_days(date(2027, 2, 19), 1) == _next_workday(date(2027, 2, 19)) != date(2027, 2, 20)
    # working_deadline passes them on
    opened = datetime(2027, 2, 4, 10, 0, tzinfo=TZ)
    assert working_deadline(opened, 1, adjustments=ADJUSTMENTS).date() == after_holiday
    assert iso(working_deadline(opened, 1, adjustments=ADJUSTMENTS)).endswith("T17:30:00+08:00")
    # without adjustments (None or empty) the old behaviour stays
    for n in range(0, 6):
        assert add_working_days(date(2027, 2, 4), n, None) == add_working_days(date(2027, 2, 4), n, {}) \
            == add_working_days(date(2027, 2, 4), n)


def test_an_entered_day_overrides_the_package_too():
    # 2026-10-10 is a make-up Saturday in the package: 3 working days after 30 September
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    moved = add_working_days(date(2026, 9, 30), 3, {date(2026, 10, 10): False})
    assert moved == _next_workday(date(2026, 10, 10)) and moved > date(2026, 10, 10)
    # and a weekday of the package entered as a holiday
    assert is_workday(date(2026, 12, 1)) and not is_workday(date(2026, 12, 1), {date(2026, 12, 1): False})


# -- the table and the callers with a session --------------------------------------------------

def test_set_remove_list_and_load(session):
    row = set_day(session, "2027-02-05", False, " 春节 ", "国办发明电〔2026〕X号", "admin")
    assert (row.day, row.workday, row.name, row.created_by) == (date(2027, 2, 5), False, "春节", "admin")
    assert row.created_at is not None
    set_day(session, date(2027, 2, 20), True, "春节", None, "admin")
    set_day(session, date(2026, 12, 31), False, "test", None, "admin")
    set_day(session, date(2027, 2, 5), True, "改", None, "admin2")          # update in place
    session.commit()
    assert [(d.day, d.workday, d.name) for d in list_days(session, 2027)] == [
        (date(2027, 2, 5), True, "改"), (date(2027, 2, 20), True, "春节")]
    assert calendar_adjustments(session, date(2027, 1, 1)) == {date(2027, 2, 5): True, date(2027, 2, 20): True}
    assert date(2026, 12, 31) in calendar_adjustments(session, date(2026, 12, 31))
    assert remove_day(session, "2027-02-05") is True and remove_day(session, "2027-02-05") is False
    assert [d.day for d in list_days(session, 2027)] == [date(2027, 2, 20)]
    for bad in ("2027-02-30", "tomorrow", "", "1999-01-01"):
        with pytest.raises(CalendarError):
            set_day(session, bad, False)
    with pytest.raises(CalendarError):
        set_day(session, "2027-03-01", False, "x" * 101)


@pytest.fixture
def whistle(session, monkeypatch):
    return registered_whistle(session, monkeypatch, at=None, title="公交站点设置不合理", description="站点离小区太远",
                              category="交通出行", community_id="ys-am-sq1", location="安民路", reporter="王先生",
                              source="patrol", actor="wg-ys-am-sq1")


def test_r07_consultation_before_an_entered_spring_festival_is_due_after_it(session, whistle):
    opened = datetime(2027, 2, 4, 10, 0, tzinfo=TZ)
    before = consultation_due(opened, 3, session=session)
    assert before == consultation_due(opened, 3) and before.date() < date(2027, 2, 14)
    _enter(session, ADJUSTMENTS)
    expected = add_working_days(_next_workday(date(2027, 2, 14)), 2)
    due = consultation_due(opened, 3, session=session)
    assert due.date() == expected > date(2027, 2, 14)
    assert consultation_due(opened, 3, adjustments=ADJUSTMENTS) == due
    rows = open_consultations(session, whistle, ["city-jtj", "city-gjjt"], "city", 3, at=opened)
    assert {r.due_at for r in rows} == {due}
    assert iso(rows[0].due_at) == f"{expected.isoformat()}T17:30:00+08:00"
    # the handler without a register row uses the entries too
    ctx = HandlerContext(session=session, instance_id=1, process_id="whistle", task_id="t", now=opened,
                         data={}, actor="zzb-hs")
    out = get_handler("consultation.open")(department_ids=["city-jtj"], level="city", reply_days=3, ctx=ctx)
    assert out["consultation_due"] == iso(due)


def test_r03_default_meeting_moves_when_the_15th_is_entered_as_a_holiday(session):
    assert default_meeting_day(2026, 4) == date(2026, 10, 15)
    assert default_meeting_day(2026, 4, {date(2026, 10, 15): False}) == _next_workday(date(2026, 10, 15))
    at = next_joint_meeting(session, "hs-jfl-sq1", datetime(2026, 9, 20, tzinfo=TZ))
    assert iso(at) == "2026-10-15T09:00:00+08:00"
    set_day(session, date(2026, 10, 15), False, "test", None, "admin")
    set_day(session, date(2027, 1, 15), False, "test", None, "admin")
    session.flush()
    at = next_joint_meeting(session, "hs-jfl-sq1", datetime(2026, 9, 20, tzinfo=TZ))
    assert at.date() == _next_workday(date(2026, 10, 15)) == date(2026, 10, 16)
    entered = {date(2027, 1, 15): False}
    at = next_joint_meeting(session, "hs-jfl-sq1", datetime(2026, 12, 1, tzinfo=TZ))
    assert at.date() == default_meeting_day(2027, 1, entered) == _next_workday(date(2027, 1, 15), entered)
    assert at.date() > date(2027, 1, 15)
    # without a session the entries are not known
    assert next_joint_meeting(None, "hs-jfl-sq1", datetime(2026, 9, 20, tzinfo=TZ)).date() == date(2026, 10, 15)


# -- CSV import --------------------------------------------------------------------------------

def test_csv_import_good_file_with_bom_and_update(session):
    raw = ("\ufeff" + GOOD_CSV).encode("utf-8")
    result = import_calendar_csv(session, io.BytesIO(raw), actor="admin")
    assert result.created == [date(2027, 2, 5), date(2027, 2, 8), date(2027, 2, 20), date(2027, 10, 9)]
    assert result.updated == []
    session.commit()
    days = {d.day: d for d in list_days(session, 2027)}
    assert [d.workday for d in days.values()] == [False, False, True, True]
    assert days[date(2027, 2, 5)].note == "国办发明电〔2026〕X号" and days[date(2027, 2, 8)].note is None
    assert days[date(2027, 2, 5)].created_by == "admin"
    # again, as text without BOM: the same days are updated
    again = import_calendar_csv(session, io.StringIO(GOOD_CSV.replace("国办发明电〔2026〕X号", "更正")))
    assert again.created == [] and len(again.updated) == 4
    assert session.get(CalendarDay, date(2027, 2, 5)).note == "更正"


@pytest.mark.parametrize("bad_row,message", [
    ("2027-02-31,休,春节,", "日期"),
    ("2027-02-10,放假,春节,", "类型"),
    ("2027-02-05,班,春节,", "重复"),
])
def test_csv_import_one_bad_row_writes_nothing(session, bad_row, message):
    set_day(session, date(2027, 10, 9), False, "before", None, "admin")
    session.commit()
    text = GOOD_CSV.replace("2027-02-08,holiday,春节,\n", f"2027-02-08,holiday,春节,\n{bad_row}\n")
    with pytest.raises(CalendarImportError) as caught:
        import_calendar_csv(session, io.StringIO(text))
    session.rollback()
    [error] = caught.value.errors
    assert error.row == 4 and message in error.message and str(error).startswith("第 4 行")
    assert [(d.day, d.workday, d.name) for d in list_days(session, 2027)] == [(date(2027, 10, 9), False, "before")]


def test_csv_import_refuses_missing_columns_and_empty_files(session):
    with pytest.raises(CalendarImportError) as caught:
        import_calendar_csv(session, io.StringIO("day,kind\n2027-02-05,休\n"))
    assert caught.value.errors[0].row == 1 and "date" in caught.value.errors[0].message
    with pytest.raises(CalendarImportError):
        import_calendar_csv(session, io.StringIO("date,type,name,note\n"))
    with pytest.raises(CalendarImportError) as caught:
        import_calendar_csv(session, io.StringIO("date,type\n2027-02-05,休,extra\n"))
    assert caught.value.errors[0].row == 2


# -- the administrators' page -------------------------------------------------------------------

@pytest.fixture
def web(db_url, tmp_path):
    with demo_app(db_url, tmp_path) as (app, factory):
        yield SimpleNamespace(app=app, factory=factory)


def _admin(app):
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    return client


def _token(client, url="/admin/calendar?year=2027"):
    return csrf_token(client.get(url).get_data(as_text=True))


def test_admin_page_lists_adds_deletes_and_imports(web):
    client = _admin(web.app)
    page = client.get("/admin/calendar?year=2027")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="coverage"' in html
    assert f"{package_last_year()} 年及以前" in html and "/admin/calendar" in html
    assert "2027 年尚未录入任何日期" in html
    # add
    response = client.post("/admin/calendar", data={"csrf_token": _token(client), "day": "2027-02-05",
                                                    "type": "holiday", "name": "春节", "note": "国办发明电"})
    assert response.status_code == 302 and "year=2027" in response.headers["Location"]
    html = client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert 'data-day="2027-02-05"' in html and "春节" in html and "已保存 2027-02-05" in html
    with web.factory() as s:
        row = s.get(CalendarDay, date(2027, 2, 5))
        assert (row.workday, row.created_by) == (False, "admin")
    # a bad value is refused readably
    client.post("/admin/calendar", data={"csrf_token": _token(client), "day": "2027-02-30", "type": "holiday"})
    assert "未保存" in client.get("/admin/calendar?year=2027").get_data(as_text=True)
    # without the token nothing happens
    assert client.post("/admin/calendar", data={"day": "2027-02-06", "type": "holiday"}).status_code == 400
    # delete
    response = client.post("/admin/calendar/delete", data={"csrf_token": _token(client), "day": "2027-02-05"})
    assert response.status_code == 302
    html = client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert 'data-day="2027-02-05"' not in html and "已删除" in html
    # import: a bad file is refused with its line, a good one imported
    bad = GOOD_CSV + "2027-13-01,休,x,\n"
    client.post("/admin/calendar/import", data={"csrf_token": _token(client), "year": "2027",
                                                "file": (io.BytesIO(bad.encode()), "bad.csv")},
                content_type="multipart/form-data")
    html = client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert "第 6 行" in html and "文件未导入" in html and 'data-day="2027-02-20"' not in html
    client.post("/admin/calendar/import", data={"csrf_token": _token(client), "year": "2027",
                                                "file": (io.BytesIO(("\ufeff" + GOOD_CSV).encode()), "good.csv")},
                content_type="multipart/form-data")
    html = client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert "导入完成：新增 4 天" in html
    assert all(f'data-day="{d}"' in html for d in ("2027-02-05", "2027-02-08", "2027-02-20", "2027-10-09"))
    # the admin menu links the page; English has it too
    assert 'href="/admin/calendar"' in client.get("/admin/directory").get_data(as_text=True)
    assert "Holiday arrangement" in client.get("/admin/calendar?year=2027&lang=en").get_data(as_text=True)


def test_admin_page_refuses_non_admins(web):
    client = web.app.test_client()
    assert client.get("/admin/calendar").status_code == 302            # to the login page
    assert login(client, "sq-hs-jfl-sq1").status_code == 302
    assert client.get("/admin/calendar").status_code == 403
    token = csrf_token(client.get("/inbox").get_data(as_text=True))
    for url in ("/admin/calendar", "/admin/calendar/delete", "/admin/calendar/import"):
        assert client.post(url, data={"csrf_token": token, "day": "2027-02-05", "type": "holiday"}).status_code == 403
    with web.factory() as s:
        assert s.scalars(select(CalendarDay)).all() == []


# -- the command line ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _whistle(args, db):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "webapp.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_calendar_import_good_and_bad_file(tmp_path):
    db = tmp_path / "whistle.db"
    eng = make_engine(f"sqlite:///{db}")
    Base.metadata.create_all(eng)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(("\ufeff" + GOOD_CSV).encode("utf-8"))
    bad.write_text("date,type,name,note\n2027-02-06,休,春节,\n2027-02-07,maybe,春节,\n", encoding="utf-8")
    try:
        proc = _whistle(["calendar", "import", str(bad)], db)
        assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
        assert f"{bad}: refused" in proc.stderr and "第 3 行" in proc.stderr and "maybe" in proc.stderr
        with write_session(make_sessionmaker(eng)) as s:
            assert s.scalars(select(CalendarDay)).all() == []
        proc = _whistle(["calendar", "import", str(good)], db)
        assert proc.returncode == 0, proc.stderr
        assert "4 created, 0 updated" in proc.stdout
        with make_sessionmaker(eng)() as s:
            assert len(list_days(s, 2027)) == 4 and s.get(CalendarDay, date(2027, 2, 5)).created_by == "cli"
        proc = _whistle(["calendar", "import", str(tmp_path / "missing.csv")], db)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
    finally:
        eng.dispose()
