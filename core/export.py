"""Spreadsheet exports that cannot carry a formula (OWASP "CSV injection"). Every CSV and XLSX
download goes through here: a ticket field, a comment or an imported value that starts like a
formula (`=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`) must reach the spreadsheet as text.

CSV: a text cell starting with = + - @ tab or CR gets a leading single quote (OWASP's rule;
also the full-width = + - @ that a Chinese spreadsheet may read as formulas). defusedcsv was
considered: it misses tab and CR and rewrites `|` inside cells, so the rule is kept here.
XLSX: every text value is an inline string cell, never a formula; a formula-like one keeps its
exact text and carries the "quote prefix" style, as if typed with a leading quote."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping

from flask import Response, stream_with_context

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(value):
    """The value as a spreadsheet must read it: numbers as they are, formula-like text quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(rows: Iterable[Iterable]) -> Iterable[str]:
    """The CSV text of the rows, line by line, every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([neutralise(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename={filename}"}


def csv_response(rows: Iterable[Iterable], filename: str) -> Response:
    """A streamed CSV download (UTF-8 with a BOM, so Excel opens Chinese text correctly)."""
    def generate():
        yield "\ufeff"
        yield from csv_lines(rows)
    return Response(stream_with_context(generate()), mimetype="text/csv", headers=_attachment(filename))


def xlsx_bytes(sheets: Mapping[str, Iterable[Iterable]]) -> bytes:
    """An XLSX workbook, one sheet per entry, with text always stored as text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            cells = []
            for value in row:
                if isinstance(value, str):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.data_type = "s"  # openpyxl would store "=..." as a formula
                    cell.quotePrefix = value.startswith(FORMULA_STARTS)
                    value = cell
                cells.append(value)
            sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_response(sheets: Mapping[str, Iterable[Iterable]], filename: str) -> Response:
    return Response(xlsx_bytes(sheets), mimetype=XLSX_MIMETYPE, headers=_attachment(filename))
