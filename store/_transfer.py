"""Exporting the log as JSON Lines, and importing such a file back, all or nothing.

One record a line, with the envelope's keys in order: ``position, stream_id,
stream_version, event_id, type, version, recorded_at, correlation_id, causation_id,
data``. Export writes what is stored (the data as recorded, before any upcasting), so a
record this code cannot decode still exports. Import keeps stream ids, versions, event
ids, correlation and causation; positions and times are the target log's. It checks
every line first and appends everything in one transaction: a bad line, an unknown
type or a conflict aborts with an error naming the line, and nothing is imported.
Importing the same file again appends nothing (identical records under known ids).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from events import ENVELOPE_FIELDS, MessageError, Registry
from store._append import AppendRequest
from store._errors import (
    EventIdConflictError,
    InvalidStreamIdError,
    StoreError,
    WrongExpectedVersionError,
)
from store._ids import check_id

if TYPE_CHECKING:
    from events import Message
    from store._sync import SyncEventStore

__all__ = ["ImportFileError", "ImportLine", "export_lines", "import_lines", "parse_lines"]

_PAGE = 5000


class ImportFileError(StoreError):
    """A line of an import file is wrong, or conflicts with the log; nothing was imported."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {reason}; nothing was imported")


@dataclass(frozen=True, slots=True)
class ImportLine:
    """One checked line of an import file."""

    line: int
    stream_id: str
    stream_version: int
    event_id: UUID
    correlation_id: str | None
    causation_id: UUID | None
    message: Message


def export_lines(
    store: SyncEventStore,
    *,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    from_position: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """The log as JSON lines (no newline), streamed a page at a time."""
    position = max(from_position, 1)
    count = 0
    while True:
        rows = store.call(store.store.read_rows(position, _PAGE))
        for row in rows:
            record = {
                "position": row[0], "stream_id": row[1], "stream_version": row[2],
                "event_id": str(UUID(bytes=row[3])), "type": row[4], "version": row[5],
                "recorded_at": row[6], "correlation_id": row[7],
                "causation_id": None if row[8] is None else str(UUID(bytes=row[8])),
                "data": json.loads(row[9]),
            }
            if keep is None or keep(record):
                yield json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        count += len(rows)
        if progress is not None:
            progress(count)
        if len(rows) < _PAGE:
            return
        position = rows[-1][0] + 1


def parse_lines(lines: Iterable[str], registry: Registry) -> list[ImportLine]:
    """Check every line; raise :class:`ImportFileError` naming the first bad one."""
    parsed = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        parsed.append(_parse(number, text, registry))
    return parsed


def _parse(number: int, text: str, registry: Registry) -> ImportLine:
    try:
        record = json.loads(text)
    except ValueError as error:
        raise ImportFileError(number, f"not JSON ({error})") from None
    if not isinstance(record, dict):
        raise ImportFileError(number, "not a JSON object")
    missing = [key for key in ENVELOPE_FIELDS if key not in record and key != "position"]
    if missing:
        raise ImportFileError(number, f"missing {', '.join(missing)}")
    try:
        stream_id = check_id(record["stream_id"])
        correlation = record["correlation_id"]
        if correlation is not None:
            check_id(correlation, "correlation id")
        version = record["stream_version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ImportFileError(number, f"stream_version must be an integer >= 1: {version!r}")
        event_id = UUID(str(record["event_id"]))
        causation = None if record["causation_id"] is None else UUID(str(record["causation_id"]))
        message = registry.decode(
            str(record["type"]), int(record["version"]),
            json.dumps(record["data"], ensure_ascii=False), stream_id=stream_id,
        )
    except (InvalidStreamIdError, MessageError) as error:
        raise ImportFileError(number, str(error)) from None
    except (ValueError, TypeError) as error:
        raise ImportFileError(number, f"bad field ({error})") from None
    return ImportLine(number, stream_id, version, event_id, correlation, causation, message)


def import_lines(store: SyncEventStore, lines: list[ImportLine]) -> int:
    """Append the checked lines in one transaction; return how many records are new."""
    before = store.last_position()
    requests = [
        AppendRequest(line.stream_id, [line.message], line.stream_version - 1,
                      line.correlation_id, line.causation_id, [line.event_id])
        for line in lines
    ]
    try:
        store.append_all(requests, want_records=False)
    except WrongExpectedVersionError as error:
        expected = "".join(ch for ch in str(error.expected) if ch.isdigit())
        culprit = next(
            (line for line in lines if line.stream_id == error.stream_id
             and str(line.stream_version - 1) == expected),
            None,
        )
        raise ImportFileError(culprit.line if culprit else 0, str(error)) from None
    except EventIdConflictError as error:
        culprit = next((line for line in lines if line.event_id == error.event_id), None)
        raise ImportFileError(culprit.line if culprit else 0, str(error)) from None
    return store.last_position() - before
