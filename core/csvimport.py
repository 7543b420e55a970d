"""Shared CSV import mechanics: header check, line numbers, a report of bad rows."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


class HeaderError(ValueError):
    pass


def rows(fh: IO[str], required: tuple[str, ...], allowed: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yields (line number, row) with cells stripped. A header that lacks a required column, or
    names one the format does not have (a misspelling would drop its data silently), is refused."""
    reader = csv.DictReader(fh)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise HeaderError(f"the header lacks column(s): {', '.join(missing)}")
    unknown = [c for c in header if c not in allowed]
    if unknown:
        raise HeaderError(f"unknown column(s): {', '.join(unknown)}")
    reader.fieldnames = header
    for row in reader:
        if None in row:  # more cells than the header has
            yield reader.line_num, {"__extra__": "too many cells"}
            continue
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
