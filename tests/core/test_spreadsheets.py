"""CSV and XLSX tables safe to open in a spreadsheet: formulas neutralised in text cells, dates and
numbers kept as such, accents and emoji intact."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from academy.core.spreadsheets import (
    Column,
    Table,
    csv_bytes,
    csv_lines,
    neutralise,
    spreadsheet_response,
    xlsx_bytes,
)

pytestmark = pytest.mark.no_db

HOSTILE = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tTabbed", "\rReturned"]


def _table(rows):
    return Table(
        "Staff: the [first] sheet",
        [Column("name", 30), Column("on", 12), Column("count", 8), Column("mark", 8)],
        rows,
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_text_that_could_start_a_formula_gets_a_leading_quote(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["Ann", "", "a=b", "Zoë 🏥", "'quoted", " =spaced"])
def test_other_text_is_left_alone(text):
    assert neutralise(text) == text


def test_csv_is_utf8_with_a_bom_and_neutralises_only_text():
    rows = [[name, date(2026, 11, 2), -3, Decimal("66.750")] for name in HOSTILE]
    rows.append(["Zoë Ångström 🏥", None, 0, Decimal("65.00")])
    rows.append(["moment", datetime(2026, 7, 1, 11, 30, tzinfo=UTC), 1, None])
    raw = csv_bytes(_table(rows))
    assert raw.startswith("\ufeff".encode())
    parsed = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert parsed[0] == ["name", "on", "count", "mark"]
    assert [row[0] for row in parsed[1:7]] == ["'" + text for text in HOSTILE]
    # Our own numbers keep their sign: only text cells are neutralised.
    assert parsed[1][1:] == ["2026-11-02", "-3", "66.75"]
    assert parsed[7] == ["Zoë Ångström 🏥", "", "0", "65"]
    # Aware times are written as UK local time (BST in July).
    assert parsed[8][1] == "2026-07-01 12:30"


def test_csv_streams_a_line_at_a_time():
    lines = list(csv_lines(["a", "b"], [["x", 1], ["y", 2]]))
    assert lines == ["\ufeffa,b\r\n", "x,1\r\n", "y,2\r\n"]


def test_cells_of_unknown_types_are_refused_rather_than_guessed():
    with pytest.raises(TypeError):
        csv_bytes(_table([[True, None, None, None]]))
    with pytest.raises(TypeError):
        xlsx_bytes(_table([[object(), None, None, None]]))


def test_xlsx_keeps_text_as_text_dates_as_dates_and_has_a_frozen_bold_header():
    rows = [[name, date(2026, 11, 2), 3, Decimal("66.75")] for name in HOSTILE]
    rows.append(["Zoë Ångström 🏥 \x07bell", None, None, None])
    workbook = load_workbook(io.BytesIO(xlsx_bytes(_table(rows))))
    sheet = workbook.active
    assert sheet.title == "Staff  the  first  sheet"
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width == 30
    header = [cell for cell in sheet[1]]
    assert [cell.value for cell in header] == ["name", "on", "count", "mark"]
    assert all(cell.font.b for cell in header)
    for row, text in zip(sheet.iter_rows(min_row=2, max_row=7), HOSTILE, strict=True):
        name, on, count, mark = row
        assert (name.value, name.data_type) == ("'" + text, "s")
        assert on.is_date and on.value.date() == date(2026, 11, 2)
        assert (count.value, count.data_type) == (3, "n")
        assert mark.value == pytest.approx(66.75)
    # Control characters XML cannot hold are dropped, not a failure.
    assert sheet["A8"].value == "Zoë Ångström 🏥 bell"
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)


def test_the_response_is_an_attachment_in_either_format(app):
    table = _table([["=1+1", date(2026, 1, 1), 1, None]])
    with app.test_request_context():
        csv_response = spreadsheet_response(table, "csv", "RJ1-x-2026-11-22.csv")
        xlsx_response = spreadsheet_response(table, "xlsx", "RJ1-x-2026-11-22.xlsx")
        with pytest.raises(ValueError):
            spreadsheet_response(table, "ods", "x.ods")
        body = "".join(csv_response.response).encode()
    assert csv_response.mimetype == "text/csv"
    assert (
        csv_response.headers["Content-Disposition"] == "attachment; filename=RJ1-x-2026-11-22.csv"
    )
    assert csv_response.headers["Cache-Control"] == "private, no-store"
    assert body.decode("utf-8-sig").splitlines()[1].startswith("'=1+1,")
    assert xlsx_response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert load_workbook(io.BytesIO(xlsx_response.get_data())).active["A2"].value == "'=1+1"
