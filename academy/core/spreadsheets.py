"""Tables people open in spreadsheet programs: CSV a line at a time and XLSX workbooks, both safe
against formula injection.

Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` as a
formula (a leading tab or carriage return can hide one), so a name such as
`=HYPERLINK("http://x","y")` typed by a learner would become a live link in a sponsor's
spreadsheet. Every text cell that starts with one of those gets a leading single quote, the
OWASP "CSV injection" advice, in both formats; numbers and dates are our own values and keep
their type. In XLSX the cells are also stored as strings, never as formulas.

A table's cells may be `str`, `int`, `Decimal`, `date`, `datetime` (aware; written as the UK
local time) or None (empty).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from werkzeug.http import dump_options_header

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": CSV_MIMETYPE, "xlsx": XLSX_MIMETYPE}
#: Excel's own limit on a sheet's name.
SHEET_TITLE_MAX = 31
UK = ZoneInfo("Europe/London")

Cell = str | int | Decimal | date | datetime | None


@dataclass(frozen=True)
class Column:
    header: str
    #: Width in characters in XLSX; CSV has none.
    width: int = 16
    #: What the column holds, for people setting up an import.
    description: str = ""


@dataclass(frozen=True)
class Table:
    """A sheet: a title (XLSX's tab name), columns, and rows of cells in the columns' order."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Cell]]


def neutralise(text: str) -> str:
    """`text` made safe to open in a spreadsheet: a leading quote if it could start a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _uk_local(moment: datetime) -> datetime:
    # Spreadsheets have no time zones; people reading one expect UK time.
    return moment.astimezone(UK).replace(tzinfo=None)


def _number_text(value: Decimal) -> str:
    """`65`, `66.75`: no exponent and no trailing zeros."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, datetime):
        return _uk_local(value).isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _number_text(value)
    if isinstance(value, bool):
        raise TypeError("say what a yes/no cell means in words")
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"not a spreadsheet cell: {type(value).__name__}")


def csv_lines(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """CSV text a line at a time, so a large table streams. It starts with a byte-order mark so
    spreadsheet programs read accented names (and emoji) as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[Cell]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_text(value) for value in values])
        return buffer.getvalue()

    yield "\ufeff" + line(headers)
    for row in rows:
        yield line(row)


def _xlsx_cell(sheet, value: Cell) -> WriteOnlyCell:
    if isinstance(value, str):
        # XML cannot carry most control characters; openpyxl refuses them rather than drop them.
        cell = WriteOnlyCell(sheet, value=neutralise(ILLEGAL_CHARACTERS_RE.sub("", value)))
        cell.data_type = "s"
        return cell
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=_uk_local(value))
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    if isinstance(value, bool) or not isinstance(value, int | Decimal | None):
        raise TypeError(f"not a spreadsheet cell: {type(value).__name__}")
    return WriteOnlyCell(sheet, value=value)


def xlsx_bytes(table: Table) -> bytes:
    """The table as an XLSX workbook of one sheet: a bold, frozen header row, set column widths,
    dates as dates and numbers as numbers."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(table.title))
    sheet.freeze_panes = "A2"
    for index, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    bold = Font(bold=True)
    header = []
    for column in table.columns:
        cell = _xlsx_cell(sheet, column.header)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    try:
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
    except Exception:
        # Close the half-written sheet's temporary file rather than leave it to the collector.
        sheet.close()
        raise
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_title(title: str) -> str:
    for forbidden in "[]:*?/\\":
        title = title.replace(forbidden, " ")
    return title[:SHEET_TITLE_MAX] or "Sheet"


def csv_bytes(table: Table) -> bytes:
    """The whole CSV at once, for an email attachment."""
    return "".join(csv_lines([c.header for c in table.columns], table.rows)).encode("utf-8")


def spreadsheet_response(table: Table, fmt: str, filename: str) -> Response:
    """`table` as a download called `filename`: CSV streamed, XLSX built then sent. Never cached:
    exports hold people's details."""
    if fmt == "csv":
        lines = csv_lines([c.header for c in table.columns], table.rows)
        response = Response(stream_with_context(lines), mimetype=CSV_MIMETYPE)
    elif fmt == "xlsx":
        response = Response(xlsx_bytes(table), mimetype=XLSX_MIMETYPE)
    else:
        raise ValueError(f"not a spreadsheet format: {fmt!r}")
    response.headers["Content-Disposition"] = dump_options_header(
        "attachment", {"filename": filename}
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
