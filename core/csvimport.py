"""Shared CSV import mechanics: the file's encoding, the header check, line numbers, chunks, and a
report of bad rows handed on as it grows, so memory stays flat whatever the file's size."""
from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, TypeVar

import charset_normalizer

CHUNK = 5000          # rows validated and written together, in one transaction
KEPT_ERRORS = 1000    # bad rows kept on the report (all of them go to `on_error`)
SAMPLE = 1 << 20      # bytes read to recognise the encoding
# What a telecom's systems write: UTF-8, or GBK/GB18030 from Chinese Excel (GB18030 reads both).
ENCODINGS = {"utf_8": "utf-8", "ascii": "utf-8", "gb2312": "gb18030", "gbk": "gb18030",
             "gb18030": "gb18030", "big5": "big5", "big5hkscs": "big5hkscs"}
T = TypeVar("T")


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # the first KEPT_ERRORS
    on_error: Callable[[int, str], None] | None = None

    def reject(self, line: int, message: str) -> None:
        self.skipped += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append((line, message))
        if self.on_error:
            self.on_error(line, message)


class HeaderError(ValueError):
    pass


class EncodingError(ValueError):
    pass


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) when the sample's lines decode as such, or all but a few
    stray ones (those are refused line by line); else what charset-normalizer recognises among
    ENCODINGS. Anything else is refused, naming the line of the first bad byte."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    lines = sample.split(b"\n")
    if len(sample) >= SAMPLE:
        lines.pop()  # cut off mid-line, perhaps mid-character
    bad = [n for n, raw in enumerate(lines, 1) if not _utf8(raw)]
    if len(bad) * 20 <= len(lines):
        return "utf-8"
    best = charset_normalizer.from_bytes(sample).best()
    name = codecs.lookup(best.encoding).name.replace("-", "_") if best else None
    if name not in ENCODINGS:
        raise EncodingError(f"line {bad[0]}: the file is neither UTF-8 nor GB18030/GBK"
                            f"{f' (it looks like {best.encoding})' if best else ''}: save it as UTF-8")
    return ENCODINGS[name]


class CsvFile:
    """The lines of a CSV file in its detected encoding. A line whose bytes do not decode is
    read with replacement characters and remembered, so `rows` refuses its row by number."""

    def __init__(self, fh: IO[bytes]):
        self._fh = fh
        self.encoding = detect_encoding(fh.read(SAMPLE))
        fh.seek(0)
        self.position = 0  # bytes read so far, for a progress bar
        self.bad_lines: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self._fh, 1):
            self.position += len(raw)
            try:
                yield raw.decode(self.encoding)
            except UnicodeDecodeError:
                self.bad_lines.add(number)
                yield raw.decode(self.encoding, errors="replace")


def records(lines: Iterable[str], required: tuple[str, ...],
            allowed: tuple[str, ...]) -> tuple[list[str], Iterator[tuple[int, list[str] | str]]]:
    """The header, and (line number, cells) for each row, cells stripped and as many as the
    header has (short rows padded with ""); a row that cannot be read comes as (line, why).
    A header that lacks a required column, or names one the format does not have (a
    misspelling would drop its data silently), is refused. Lists, not dicts: the bulk path's
    per-row cost."""
    bad_lines = getattr(lines, "bad_lines", set())
    encoding = getattr(lines, "encoding", "")
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader, [])]
    if bad_lines:
        raise HeaderError(f"the header is not valid {encoding}")
    missing = [c for c in required if c not in header]
    if missing:
        raise HeaderError(f"the header lacks column(s): {', '.join(missing)}")
    unknown = [c for c in header if c not in allowed]
    if unknown:
        raise HeaderError(f"unknown column(s): {', '.join(unknown)}")
    return header, _cells(reader, len(header), bad_lines, encoding)


def _cells(reader, width: int, bad_lines: set[int], encoding: str) -> Iterator[tuple[int, list[str] | str]]:
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader goes on with the next line
            end = reader.line_num
            yield end, f"not readable as CSV ({exc})"
            continue
        end = reader.line_num
        if not row:  # a blank line is no row (as csv.DictReader has it)
            continue
        if bad_lines and (hit := {n for n in bad_lines if start <= n <= end}):
            bad_lines -= hit
            yield end, f"holds bytes that are not valid {encoding}: save the file as UTF-8"
        elif len(row) > width:
            yield end, "the row has more cells than the header"
        else:
            cells = list(map(str.strip, row))
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            yield end, cells


def rows(lines: Iterable[str], required: tuple[str, ...],
         allowed: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """`records` as dicts by column name; a row that cannot be read comes as {"__error__": why}."""
    header, found = records(lines, required, allowed)
    for line, cells in found:
        yield line, {"__error__": cells} if isinstance(cells, str) else dict(zip(header, cells, strict=True))


def chunks(items: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    iterator, size = iter(items), size or CHUNK
    while chunk := list(islice(iterator, size)):
        yield chunk


@contextlib.contextmanager
def collected_by_chunk(every: int = 10) -> Iterator[Callable[[], None]]:
    """A long import without the garbage collector's automatic full passes, which scan every
    object the process holds (the app's ~180,000 among them) each time enough chunk objects
    outlive their first collections: a quarter of import-tickets' CPU. What exists before the
    import is frozen (gc.freeze), automatic collection pauses, and the function yielded, called
    after each chunk, collects the import's own cycles every `every` chunks, so memory stays
    bounded. Everything is as before once the block ends. A process that froze its start-up
    objects already (app.create_app does) keeps them frozen and freezes nothing more here:
    gc.unfreeze() cannot tell the two apart."""
    enabled, freeze = gc.isenabled(), not gc.get_freeze_count()
    if freeze:
        gc.freeze()
    gc.disable()
    chunks_done = 0

    def chunk_done() -> None:
        nonlocal chunks_done
        chunks_done += 1
        if chunks_done % every == 0:
            gc.collect()
    try:
        yield chunk_done
    finally:
        if freeze:
            gc.unfreeze()
        if enabled:
            gc.enable()


SWITCH_INTERVAL = 0.0005  # seconds a thread holds the GIL while another waits for it, in prefetched


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of `items`, produced by a thread: reading and validating the next chunk
    (Python work) goes on while the caller waits for the database, which the drivers do
    without holding the GIL. At most `depth` items are built or being built and not yet taken
    (1: the next one is built while the caller handles this one, and no further: what a large
    item costs in memory). An exception in `items` reaches the caller; a caller that stops
    early stops the thread too."""
    box: queue.Queue = queue.Queue()
    slots = threading.Semaphore(depth)
    stop, end = threading.Event(), object()

    def free_slot() -> bool:
        while not stop.is_set():
            if slots.acquire(timeout=0.1):
                return True
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            while free_slot():
                item = next(iterator, end)
                box.put((item, None))
                if item is end:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            box.put((end, exc))
        finally:  # a generator stopped early ends here, in its own thread (its `with` blocks too)
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="csv-prefetch", daemon=True)
    # The caller's database calls return while the thread holds the GIL, and wait for it to be
    # handed over: after 5 ms by default, many times a chunk. A shorter interval keeps the
    # database busy (import-responses of 200,000 rows, three runs each on a busy machine:
    # 12,756 -> 13,549 rows/s on average).
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, SWITCH_INTERVAL))
    thread.start()
    try:
        while True:
            item, exc = box.get()
            slots.release()
            if item is end:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(switch)
