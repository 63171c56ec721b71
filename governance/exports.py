"""Exports with Chinese headers: the register, the evaluations, the R20 figures and the annual
assessment, as Excel workbooks (openpyxl, write-only) or CSV (UTF-8 with BOM, opens in Excel).

    data = export_register(session, "xlsx", year=2026, progress=lambda done, total: ...)
    export_assessment(session, 2026, "xlsx", out="/tmp/考核2026.xlsx")

Every function takes `fmt` ('xlsx' | 'csv'), `out` (a path or a binary file; None → the bytes are
returned) and `progress` (callable(done, total), called every `PROGRESS_EVERY` rows and at the end).
Register and evaluation rows are streamed from the database (`yield_per`), never all loaded.

Safe to open (OWASP CSV injection): a text cell starting with `=`, `+`, `-`, `@`, a tab or a
carriage return is never a formula — in CSV it gets a leading apostrophe, in XLSX it is a text cell
with Excel's quote prefix. Dates and times are real date cells in XLSX (Asia/Shanghai, formatted),
ISO 8601 with offset in CSV. Titles are typed by residents and officers: phone and identity card
numbers in them are masked (governance.privacy), as for every reader who does not handle the whistle.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable, Iterable

from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import func, select

from .assessment import GRADE_NAMES, annual_results, year_bounds
from .calendar import iso, parse_datetime, to_local
from .models import Evaluation, Unit, Whistle
from .privacy import mask
from .register import OUTCOMES, STAGES
from .stats import BREAKDOWNS, normalise_filters, stats, whistle_conditions

PROGRESS_EVERY = 200
FORMATS = ("xlsx", "csv")
SOURCE_NAMES = {"patrol": "网格员巡查", "platform": "居民平台", "api": "接口"}
ROLE_NAMES = {"lead": "牵头", "cooperating": "配合"}
LEVEL_NAMES = {"district": "区级", "city": "市级"}

REGISTER_HEADERS = ["编号", "标题", "类别", "区", "街道", "社区", "来源", "上报时间", "当前阶段", "派单层级",
                    "牵头部门", "配合部门", "任务单号", "派单时间", "报到期限", "报到时间", "报到逾期",
                    "办结期限", "办结时间", "办结逾期", "延期次数", "满意率(%)", "办结归档时间", "办结方式", "共性问题编号"]
EVALUATION_HEADERS = ["事项编号", "标题", "区", "街道", "社区", "被评价部门", "角色", "任务单号", "总体评价",
                      "报到及时性", "工作方案", "办理结果", "工作态度", "评价意见", "报到逾期", "办结逾期",
                      "报到用时(天)", "办结用时(天)", "延期次数", "满意率(%)", "评价时间"]
STATS_HEADERS = ["维度", "代码", "名称", "吹哨事项", "已解决", "无法解决", "联席会议研究后办结", "形成长效机制",
                 "已办结（合计）", "未办结", "逾期", "已派单", "延期事项", "任务单",
                 "按时报到率(%)", "按时办结率(%)", "延期率(%)", "满意率(%)"]
RESULT_HEADERS = ["部门代码", "部门", "部门层级", "审核单位", "街道", "评价次数", "按时报到", "按时办结",
                  "优秀", "良好", "一般", "较差", "满意率(%)", "响应得分", "办理得分", "满意度得分", "社区评价得分", "综合得分",
                  "计算等次", "街道建议等次", "街道意见", "审定等次", "审核意见", "最终等次"]


class ExportError(ValueError):
    pass


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")   # OWASP: what a spreadsheet may read as a formula
DATETIME_FORMAT, DATE_FORMAT = "yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd"


def is_formula_like(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def neutralise(value):
    """A CSV cell that no spreadsheet runs: formula-like text gets a leading apostrophe."""
    return "'" + value if is_formula_like(value) else value


def _when(value) -> datetime | None:
    """An ISO 8601 string of the domain (or a datetime) as an aware datetime; None stays None."""
    if value is None or value == "":
        return None
    return parse_datetime(value)


def _yes(value) -> str:
    return "是" if value else "否"


def _grade(value) -> str | None:
    return GRADE_NAMES.get(value, value) if value else None


def _unit_names(session) -> dict:
    return dict(session.execute(select(Unit.id, Unit.name)).all())


class _Sink:
    """Rows into an xlsx workbook (several sheets) or one CSV table."""

    def __init__(self, fmt: str):
        if fmt not in FORMATS:
            raise ExportError(f"格式应为 {'/'.join(FORMATS)}")
        self.fmt = fmt
        self.wb = Workbook(write_only=True) if fmt == "xlsx" else None
        self.text = io.StringIO() if fmt == "csv" else None
        self.writer = csv.writer(self.text) if fmt == "csv" else None
        self.sheet = None
        self.tables = 0

    def table(self, title: str, headers: list[str]):
        self.tables += 1
        if self.wb is not None:
            self.sheet = self.wb.create_sheet(title=title[:31])
            self.sheet.append(headers)
        else:
            if self.tables > 1:
                self.writer.writerow([])
                self.writer.writerow([f"【{title}】"])
            self.writer.writerow(headers)

    def row(self, values: Iterable):
        if self.wb is not None:
            self.sheet.append([self._xlsx_cell(v) for v in values])
        else:
            self.writer.writerow([self._csv_cell(v) for v in values])

    @staticmethod
    def _csv_cell(value):
        if value is None:
            return ""
        if isinstance(value, datetime):
            return iso(value)
        if isinstance(value, date):
            return value.isoformat()
        return neutralise(value)

    def _xlsx_cell(self, value):
        if isinstance(value, datetime):   # Excel has no time zones: local time, formatted as a date-time
            cell = WriteOnlyCell(self.sheet, value=to_local(value).replace(tzinfo=None))
            cell.number_format = DATETIME_FORMAT
            return cell
        if isinstance(value, date):
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.number_format = DATE_FORMAT
            return cell
        if is_formula_like(value):        # text, never a formula: what Excel stores for '=...
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.data_type = "s"
            cell.quotePrefix = True
            return cell
        return value

    def finish(self, out):
        if self.wb is not None:
            buffer = io.BytesIO()
            self.wb.save(buffer)
            data = buffer.getvalue()
        else:
            data = self.text.getvalue().encode("utf-8-sig")
        if out is None:
            return data
        if isinstance(out, (str, Path)):
            Path(out).write_bytes(data)
        else:
            out.write(data)
        return None


def _progress(progress: Callable[[int, int], None] | None, done: int, total: int, force=False):
    if progress is not None and (force or done % PROGRESS_EVERY == 0):
        progress(done, total)


# -- the register ----------------------------------------------------------------------------

def export_register(session, fmt: str = "xlsx", *, out=None, progress=None, **filters):
    """吹哨事项台账: one row per whistle matching `filters` (those of `governance.stats.stats`)."""
    conds = whistle_conditions(normalise_filters(filters))
    total = session.scalar(select(func.count(Whistle.id)).where(*conds)) or 0
    names = _unit_names(session)
    sink = _Sink(fmt)
    sink.table("吹哨事项台账", REGISTER_HEADERS)
    done = 0
    stmt = select(Whistle).where(*conds).order_by(Whistle.id).execution_options(yield_per=500)
    for w in session.scalars(stmt):
        sink.row([w.whistle_no, mask(w.title), w.category, names.get(w.district_id), names.get(w.street_id),
                  names.get(w.community_id), SOURCE_NAMES.get(w.source, w.source), w.created_at,
                  STAGES.get(w.stage, w.stage), LEVEL_NAMES.get(w.level, w.level),
                  names.get(w.lead_department_id),
                  "、".join(names.get(d, d) for d in (w.cooperating_department_ids or [])) or None,
                  w.task_order_no, w.dispatched_at, w.report_due, w.reported_at,
                  _yes(w.report_overdue), w.complete_due, w.completed_at, _yes(w.complete_overdue),
                  int(w.extension_count or 0), w.satisfaction_rate, w.closed_at,
                  OUTCOMES.get(w.outcome, w.outcome), w.joint_id])
        done += 1
        _progress(progress, done, total)
    _progress(progress, done, total, force=True)
    return sink.finish(out)


# -- the evaluations -------------------------------------------------------------------------

def export_evaluations(session, fmt: str = "xlsx", *, year: int | None = None, out=None, progress=None,
                       department: str | None = None, street: str | None = None, district: str | None = None):
    """一哨一考核评价 (R16): one row per evaluation (of `year` by evaluation date, when given)."""
    conds = []
    if year is not None:
        start, end = year_bounds(int(year))
        conds += [Evaluation.at >= start, Evaluation.at < end]
    if department:
        conds.append(Evaluation.department_id == department)
    if street:
        conds.append(Whistle.street_id == street)
    if district:
        conds.append(Whistle.district_id == district)
    base = select(Evaluation, Whistle).join(Whistle, Whistle.id == Evaluation.whistle_id).where(*conds)
    total = session.scalar(select(func.count(Evaluation.id)).join(Whistle, Whistle.id == Evaluation.whistle_id)
                           .where(*conds)) or 0
    names = _unit_names(session)
    sink = _Sink(fmt)
    sink.table("一哨一考核评价", EVALUATION_HEADERS)
    done = 0
    for e, w in session.execute(base.order_by(Evaluation.id).execution_options(yield_per=500)):
        facts = e.facts or {}
        sink.row([w.whistle_no, mask(w.title), names.get(w.district_id), names.get(w.street_id), names.get(w.community_id),
                  names.get(e.department_id, e.department_id), ROLE_NAMES.get(facts.get("role"), facts.get("role")),
                  facts.get("task_order_no"), _grade(e.grade), _grade(e.timeliness), _grade(e.plan),
                  _grade(e.result), _grade(e.attitude), e.opinion, _yes(facts.get("report_overdue")),
                  _yes(facts.get("complete_overdue")), facts.get("days_to_report"), facts.get("days_to_complete"),
                  facts.get("extensions"), facts.get("satisfaction_rate"), e.at])
        done += 1
        _progress(progress, done, total)
    _progress(progress, done, total, force=True)
    return sink.finish(out)


# -- the R20 figures -------------------------------------------------------------------------

BREAKDOWN_NAMES = {"district": "按区", "street": "按街道", "community": "按社区", "department": "按部门",
                   "category": "按类别", "month": "按月份"}


def export_stats(session, fmt: str = "xlsx", *, out=None, progress=None, **filters):
    """统计 (R20): the totals and rates of `stats(**filters)`, then each breakdown."""
    figures = stats(session, **filters)
    t, r = figures["totals"], figures["rates"]
    sink = _Sink(fmt)
    sink.table("统计汇总", ["指标", "数值"])
    for label, value in (("吹哨事项", t["reported"]), ("已解决", t["solved"]), ("无法解决", t["cannot_solve"]),
                         ("联席会议研究后办结", t["closed_at_meeting"]), ("形成长效机制", t["long_term"]),
                         ("已办结（合计）", t["closed"]), ("未办结", t["open"]),
                         ("逾期事项", t["overdue"]), ("已派单事项", t["dispatched"]), ("延期事项", t["extended"]),
                         ("任务单", t["task_orders"]), ("报到部门数", t["departments_reported"]),
                         ("满意度测评", t["surveys"]), ("测评人数", t["respondents"]),
                         ("满意及基本满意人数", t["satisfied"]),
                         ("按时报到率(%)", r["on_time_report"]), ("按时办结率(%)", r["on_time_completion"]),
                         ("延期率(%)", r["extension"]), ("满意率(%)", r["satisfaction"])):
        sink.row([label, value])
    total = sum(len(figures[f"by_{b}"]) for b in BREAKDOWNS)
    done = 0
    for b in BREAKDOWNS:
        sink.table(BREAKDOWN_NAMES[b], STATS_HEADERS)
        for row in figures[f"by_{b}"]:
            sink.row([BREAKDOWN_NAMES[b], row["id"], row["name"], row["reported"], row["solved"],
                      row["cannot_solve"], row["closed_at_meeting"], row["long_term"], row["closed"], row["open"],
                      row["overdue"], row["dispatched"], row["extended"], row["task_orders"],
                      row["on_time_report_rate"], row["on_time_completion_rate"], row["extension_rate"],
                      row["satisfaction_rate"]])
            done += 1
            _progress(progress, done, total)
    _progress(progress, done, total, force=True)
    return sink.finish(out)


# -- the annual assessment -------------------------------------------------------------------

def _result_values(r: dict) -> list:
    return [r["department_id"], r["department_name"], LEVEL_NAMES.get(r["department_level"]),
            r["org_unit_id"], r["street_name"], r["evaluations"], r["reported_on_time"], r["completed_on_time"],
            r["excellent"], r["good"], r["fair"], r["poor"], r["satisfaction_rate"], r["response_score"],
            r["resolution_score"], r["satisfaction_score"], r["opinion_score"], r["score"], _grade(r["computed_grade"]),
            _grade(r["recommended_grade"]), r["street_opinion"], _grade(r["reviewed_grade"]),
            r["review_opinion"], _grade(r["final_grade"])]


def export_assessment(session, year: int, fmt: str = "xlsx", *, out=None, progress=None):
    """年度考核评价 (R17/R18): department totals, per street, street recommendations, org reviews,
    the urban districts' own work and the settings used. CSV holds the same tables one after
    another, each introduced by a 【title】 line."""
    data = annual_results(session, int(year))
    if data is None:
        raise ExportError(f"{year} 年度没有考核数据")
    total = len(data["departments"]) + len(data["by_street"])
    done = 0
    sink = _Sink(fmt)
    sink.table(f"{year}年度部门考核", RESULT_HEADERS)
    for r in data["departments"] + data["by_street"]:
        if done == len(data["departments"]):
            sink.table("分街道评价汇总", RESULT_HEADERS)
        sink.row(_result_values(r))
        done += 1
        _progress(progress, done, total)
    if not data["by_street"]:
        sink.table("分街道评价汇总", RESULT_HEADERS)
    sink.table("街道考核评价建议", ["街道", "建议", "各部门建议等次", "提出人", "时间"])
    for s in data["street_recommendations"]:
        sink.row([s["street_name"], s["opinion"], "；".join(f"{d}:{_grade(g)}" for d, g in sorted(s["grades"].items())),
                  s["by"], _when(s["at"])])
    sink.table("组织部审核", ["审核单位", "审核意见", "各部门审定等次", "审核人", "时间"])
    for o in data["org_reviews"]:
        sink.row([o["org_unit_name"], o["opinion"], "；".join(f"{d}:{_grade(g)}" for d, g in sorted(o["grades"].items())),
                  o["by"], _when(o["at"])])
    sink.table("城区本级工作考核", ["城区", "吹哨事项", "已解决", "按时报到率(%)", "按时办结率(%)", "满意率(%)",
                             "考核等次", "考核意见", "考核人", "时间"])
    for d in data["district_work"]:
        t, r = (d["figures"] or {}).get("totals", {}), (d["figures"] or {}).get("rates", {})
        sink.row([d["district_name"], t.get("reported"), t.get("solved"), r.get("on_time_report"),
                  r.get("on_time_completion"), r.get("satisfaction"), _grade(d["grade"]), d["opinion"], d["by"], _when(d["at"])])
    settings = data["settings"] or {}
    sink.table("评分设置", ["项目", "数值"])
    for label, value in (("年度", data["year"]), ("状态", data["status"]), ("已冻结", _yes(data["frozen"])),
                         ("设置版本", settings.get("version")), ("响应权重", settings.get("response_weight")),
                         ("办理权重", settings.get("resolution_weight")),
                         ("满意度权重", settings.get("satisfaction_weight")),
                         ("社区评价权重", settings.get("opinion_weight") or 0),
                         ("社区评价权重", settings.get("opinion_weight") or 0),
                         *((f"{GRADE_NAMES[g]}分数线", (settings.get("thresholds") or {}).get(g))
                           for g in ("excellent", "good", "fair")),
                         *((f"评价“{GRADE_NAMES[g]}”分值", (settings.get("grade_points") or {}).get(g))
                           for g in ("excellent", "good", "fair", "poor"))):
        sink.row([label, value])
    _progress(progress, done, total, force=True)
    return sink.finish(out)
