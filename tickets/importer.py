"""`import-tickets FILE.csv`: batch intake. Each row is validated as the API validates a ticket;
the good rows of each chunk are stored and planned together (tickets.batch), one transaction
a chunk. A ticket already stored, or repeated in the file, is refused by its line."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from core.csvimport import HeaderError, ImportReport, chunks, collected_by_chunk, prefetched, rows
from core.db import is_postgres
from core.settings import get_rules
from tickets.batch import IntakePipeline, intake_batch
from tickets.services import Intake, validate_ticket

COLUMNS = ("external_id", "kind", "handled_at", "customer_id", "customer_name", "phone", "email",
           "locale", "category", "region", "agent", "channel")


def _body(row: dict[str, str]) -> dict[str, Any]:
    """The CSV row in the API's shape, so both validate the same way."""
    return {"external_id": row.get("external_id"), "kind": row.get("kind"),
            "handled_at": row.get("handled_at"),
            "customer": {"id": row.get("customer_id"), "name": row.get("customer_name"),
                         "phone": row.get("phone") or None, "email": row.get("email") or None,
                         "locale": row.get("locale") or None},
            **{k: row.get(k) for k in ("category", "region", "agent", "channel")}}


def _validated(chunk: list[tuple[int, dict[str, str]]]) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    """(good rows, refused rows with why), both by line."""
    good, refused, first = [], [], {}
    for line, row in chunk:
        if "__error__" in row:
            refused.append((line, row["__error__"]))
            continue
        clean, errors = validate_ticket(_body(row))
        if errors:
            refused.append((line, "; ".join(f"{k} {v}" for k, v in sorted(errors.items()))))
        elif clean["external_id"] in first:
            refused.append((line, f"external_id {clean['external_id']} repeats line {first[clean['external_id']]}"))
        else:
            first[clean["external_id"]] = line
            good.append((line, clean))
    return good, refused


def _read_ahead(lines: Iterable[str]) -> Iterator[tuple[list[tuple[int, dict]], list[tuple[int, str]]]]:
    """The file's chunks, validated; the next one is read and validated in a thread while the
    caller stores this one (the database's share of that time would otherwise be idle)."""
    return prefetched(map(_validated, chunks(rows(lines, ("external_id", "kind", "handled_at", "customer_id"),
                                                  COLUMNS))))


def import_tickets_csv(lines: Iterable[str], report: ImportReport | None = None,
                       progress: Callable[[], None] | None = None) -> ImportReport:
    """Imports the rows of the CSV `lines` (a text file, or a core.csvimport.CsvFile) into
    `report`, which hands each bad row on as it is found; `progress` is called after each chunk."""
    report = report if report is not None else ImportReport()
    rules = get_rules()
    stored = _stored_chunks(_read_ahead(lines), rules)
    try:
        with collected_by_chunk() as chunk_done:
            for good, refused, results in stored:
                _report(report, good, refused, results)
                chunk_done()
                if progress:
                    progress()
    except HeaderError as exc:
        report.reject(1, str(exc))
    finally:
        stored.close()
    return report


def _report(report: ImportReport, good: list[tuple[int, dict]], refused: list[tuple[int, str]],
            results: list[Intake]) -> None:
    for line, why in refused:
        report.reject(line, why)
    for (line, clean), result in zip(good, results, strict=True):
        if result.created:
            report.imported += 1
        else:
            report.reject(line, f"external_id {clean['external_id']} was already imported")


Validated = tuple[list[tuple[int, dict]], list[tuple[int, str]]]


def _stored_chunks(validated: Iterator[Validated], rules: dict[str, Any],
                   ) -> Generator[tuple[list[tuple[int, dict]], list[tuple[int, str]], list[Intake]], None, None]:
    """Each chunk with its intake results once it is committed, in the file's order. On
    PostgreSQL the next chunk is planned while this one is written (tickets.batch.IntakePipeline);
    SQLite, whose writers are serialised anyway, takes one chunk at a time."""
    if not is_postgres():
        for good, refused in validated:
            yield good, refused, intake_batch([c for _, c in good], rules)
        return
    pipeline, waiting = IntakePipeline(rules), deque()
    try:
        for good, refused in validated:
            waiting.append((good, refused))
            for _cleans, results in pipeline.feed([c for _, c in good]):
                yield *waiting.popleft(), results
        for _cleans, results in pipeline.finish():
            yield *waiting.popleft(), results
    finally:
        pipeline.close()
