"""The official holiday arrangement entered by administrators (table `calendar_days`).

The `chinese-calendar` package only knows the years up to its latest release; the State
Council announces next year's arrangement (holidays and make-up working days, 调休) each
November or December. An entered day overrides the package (see `governance.calendar`).

CSV columns: date, type, name, note — `type` is `holiday`/`休` (a rest day) or `workday`/`班`
(a make-up working day); `date` is YYYY-MM-DD (YYYY/M/D also accepted). A file is imported
all or nothing: any bad row refuses it with row-numbered errors (`CalendarImportError`).
"""
from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import select

from engine.clock import now

from .calendar import local_date
from .csv_import import CsvImportError, ImportResult, RowError, records
from .models import CalendarDay

DAY_TYPES = {"holiday": False, "休": False, "workday": True, "班": True}
REQUIRED_COLUMNS = ("date", "type")
MAX_NAME, MAX_NOTE = 100, 300
FIRST_YEAR, LAST_YEAR = 2000, 2100

_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")


class CalendarError(ValueError):
    """A calendar entry is invalid."""


class CalendarImportError(CsvImportError):
    """The calendar file was refused; `errors` lists every problem by row. Nothing was changed."""


# -- values ----------------------------------------------------------------------------------

def parse_day(value) -> date:
    """A date from a date or a 'YYYY-MM-DD' / 'YYYY/M/D' string (years 2000–2100)."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        text = str(value or "").strip()
        match = _DATE.match(text)
        try:
            day = date(*map(int, match.groups())) if match else None
        except ValueError:
            day = None
        if day is None:
            raise CalendarError(f"日期“{text}”无效（应为 YYYY-MM-DD）")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CalendarError(f"日期 {day.isoformat()} 的年份超出范围（{FIRST_YEAR}–{LAST_YEAR}）")
    return day


def parse_type(value) -> bool:
    """True for a make-up working day (workday/班), False for a rest day (holiday/休)."""
    text = str(value or "").strip()
    key = text.lower() if text.isascii() else text
    if key not in DAY_TYPES:
        raise CalendarError(f"类型“{text}”无效（应为 holiday/休 或 workday/班）")
    return DAY_TYPES[key]


def _text(value, limit: int, label: str) -> str | None:
    text = str(value or "").strip()
    if len(text) > limit:
        raise CalendarError(f"{label}过长（最多 {limit} 个字符）")
    return text or None


# -- operations ------------------------------------------------------------------------------

def list_days(session, year: int) -> list[CalendarDay]:
    """The entered days of `year`, by date."""
    return list(session.scalars(select(CalendarDay)
                                .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
                                .order_by(CalendarDay.day)))


def set_day(session, day, workday: bool, name: str | None = None, note: str | None = None,
            actor: str | None = None) -> CalendarDay:
    """Enter a day (or change an entered one); who entered it and when is recorded."""
    day = parse_day(day)
    name = _text(name, MAX_NAME, "名称")
    note = _text(note, MAX_NOTE, "依据")
    row = session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day)
        session.add(row)
    row.workday, row.name, row.note = bool(workday), name, note
    row.created_by, row.created_at = actor, now()
    session.flush()
    return row


def remove_day(session, day) -> bool:
    """Remove an entered day (the package decides it again); False if it was not entered."""
    row = session.get(CalendarDay, parse_day(day))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def calendar_adjustments(session, since: date) -> dict[date, bool]:
    """The entered calendar days from `since` on, as {date: is_workday} (a few dozen a year)."""
    if isinstance(since, datetime):
        since = local_date(since)
    rows = session.execute(select(CalendarDay.day, CalendarDay.workday).where(CalendarDay.day >= since))
    return {day: bool(workday) for day, workday in rows}


# -- CSV import ------------------------------------------------------------------------------

def import_calendar_csv(session, source, actor: str | None = None) -> ImportResult:
    """Import calendar days from CSV (`source`: a path or a file object, text or bytes).

    Every row is validated first; any error refuses the whole file (CalendarImportError).
    Dates already entered are updated. The caller commits.
    """
    errors: list[RowError] = []
    rows: dict[date, tuple[int, dict]] = {}
    for line, values in records(source, REQUIRED_COLUMNS, CalendarImportError, lower_header=True):
        if values is None:
            errors.append(RowError(line, "列数多于表头"))
            continue
        entry, problems = {}, []
        for key, check in (("day", lambda: parse_day(values["date"])),
                           ("workday", lambda: parse_type(values["type"])),
                           ("name", lambda: _text(values.get("name"), MAX_NAME, "名称")),
                           ("note", lambda: _text(values.get("note"), MAX_NOTE, "依据"))):
            try:
                entry[key] = check()
            except CalendarError as exc:
                problems.append(str(exc))
        day = entry.get("day")
        if day is not None and day in rows:
            problems.append(f"日期 {day.isoformat()} 与第 {rows[day][0]} 行重复")
        if problems:
            errors.extend(RowError(line, m) for m in problems)
            continue
        rows[day] = (line, entry)
    if errors:
        raise CalendarImportError(errors)
    if not rows:
        raise CalendarImportError([RowError(1, "文件中没有任何日期")])

    result = ImportResult()
    existing = set(session.scalars(select(CalendarDay.day).where(CalendarDay.day.in_(list(rows)))))
    for day, (_, entry) in sorted(rows.items()):
        (result.updated if day in existing else result.created).append(day)
        set_day(session, day, entry["workday"], entry["name"], entry["note"], actor)
    return result
