"""What the all-or-nothing CSV imports (directory, calendar) share: reading the file in UTF-8
(BOM or not; GB18030 as saved by Chinese Excel), checking the header, handing out the rows with
their line numbers, and the row-numbered errors and the result they report."""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class ImportResult:
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated"


@dataclass
class RowError:
    row: int          # line number in the file, the header being line 1
    message: str

    def __str__(self) -> str:
        return f"第 {self.row} 行：{self.message}"


class CsvImportError(ValueError):
    """The file was refused; `errors` lists every problem by row. Nothing was changed."""

    def __init__(self, errors: list[RowError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def read_text(source, error: type[CsvImportError]) -> str:
    """The text of `source` (a path or a file object giving text or bytes)."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            raw = fh.read()
    else:
        raw = source.read()
    if isinstance(raw, str):
        return raw.lstrip("\ufeff")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise error([RowError(1, "文件编码无法识别（请使用 UTF-8）")])


def records(source, required: tuple[str, ...], error: type[CsvImportError], *,
            lower_header: bool = False) -> Iterator[tuple[int, dict | None]]:
    """(line, {column: stripped text}) for every non-blank row; (line, None) for a row with more
    cells than the header. Raises `error` for an unreadable file or missing columns."""
    reader = csv.DictReader(io.StringIO(read_text(source, error)))
    header = [(h or "").strip() for h in (reader.fieldnames or [])]
    if lower_header:
        header = [h.lower() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise error([RowError(1, f"缺少列：{', '.join(missing)}")])
    reader.fieldnames = header
    for record in reader:
        if None in record:
            yield reader.line_num, None
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if any(values.values()):
            yield reader.line_num, values
