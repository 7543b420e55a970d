"""CSV and XLSX downloads that are safe to open in a spreadsheet. Text that customers or staff
typed can begin with = + - @ (or a tab / carriage return that hides one): a spreadsheet would
run it as a formula (CSV/formula injection, OWASP). Such cells get a leading single quote, and
XLSX text cells are written as strings, never as formulas."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response, stream_with_context

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: Any) -> Any:
    """A text cell beginning like a formula gets a leading quote; numbers, dates and None pass."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]


def csv_response(rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """Streams the rows as UTF-8 CSV with a BOM (so Excel reads Chinese text correctly)."""
    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        yield "\ufeff"
        for row in rows:
            writer.writerow(safe_row(row))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate(0)
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def xlsx_bytes(sheets: dict[str, Iterable[Sequence[Any]]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title[:31])
        for row in rows:
            cells = []
            for value in safe_row(row):
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text stays text, whatever it begins with
                cells.append(cell)
            sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_response(sheets: dict[str, Iterable[Sequence[Any]]], filename: str) -> Response:
    return Response(xlsx_bytes(sheets), mimetype=XLSX_TYPE,
                    headers={"Content-Disposition": f"attachment; filename={filename}"})
