"""Deciding, inside the writer's transaction, what each queued append writes.

The writer holds SQLite's write lock (BEGIN IMMEDIATE) while it resolves a batch, so
the stream versions and the log's head it read cannot change underneath it. Each
append is checked against the state left by the appends before it in the same batch;
one that fails its checks is answered with its error and leaves the state untouched,
so it never fails the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from events import Envelope, Message, uuid_from_bytes
from store._chain import record_hash
from store._errors import EventIdConflictError, WrongExpectedVersionError
from store._expected import check, describe

if TYPE_CHECKING:
    from store._append import Checkpoint, PreparedWrite

__all__ = ["BatchState", "Pending", "Row", "resolve"]

_new: Any = tuple.__new__  # builds an Envelope without re-checking its ten fields

Row = tuple[int, str, int, bytes, str, int, str, str | None, bytes | None, str, bytes]
"""A stored record: the envelope columns in order, then ``hash``."""


@dataclass(slots=True)
class Pending:
    """One caller's atomic unit of work waiting for the writer."""

    writes: list[PreparedWrite]
    checkpoint: Checkpoint | None
    size: int
    want_records: bool = True
    """False when the caller ignores the records (an actor's commit): none are built."""


@dataclass(slots=True)
class BatchState:
    """What the writer knows of the log while it resolves one batch."""

    versions: dict[str, int]
    position: int
    previous_hash: bytes
    recorded: dict[bytes, Row] = field(default_factory=dict)
    """Rows of explicitly given event ids: already stored, or written earlier in the batch."""

    def copy(self) -> BatchState:
        """A snapshot to go back to if an append's insert fails."""
        return BatchState(
            dict(self.versions), self.position, self.previous_hash, dict(self.recorded)
        )


def envelope(row: Row, message: Message) -> Envelope[Message]:
    """The envelope of a stored ``row`` whose decoded message is ``message``."""
    return Envelope(
        row[0],
        row[1],
        row[2],
        UUID(bytes=row[3]),
        row[4],
        row[5],
        datetime.fromisoformat(row[6]),
        row[7],
        None if row[8] is None else UUID(bytes=row[8]),
        message,
    )


def _same_content(row: Row, write: PreparedWrite, index: int) -> bool:
    message = write.messages[index]
    return (
        row[1] == write.stream_id
        and row[4] == type(message).message_type
        and row[5] == type(message).message_version
        and row[7] == write.correlation_id
        and row[8] == write.causation_id
        and row[9] == write.texts[index]
    )


def _already_recorded(
    write: PreparedWrite, known: dict[bytes, Row], fresh: dict[bytes, Row]
) -> list[Envelope[Message]] | None:
    """The stored records if this write is a repeat of one already recorded, else None."""
    rows = [known.get(event_id) or fresh.get(event_id) for event_id in write.event_ids]
    found = [row for row in rows if row is not None]
    if not found:
        return None
    if len(found) != len(rows):
        first = next(r for r in rows if r is not None)
        raise EventIdConflictError(
            UUID(bytes=first[3]),
            "is already recorded but other event ids of the same append are not "
            "(an append is recorded whole or not at all)",
            first[0],
        )
    for index, row in enumerate(found):
        if not _same_content(row, write, index):
            raise EventIdConflictError(
                UUID(bytes=row[3]), "is already recorded with different content", row[0]
            )
    return [envelope(row, write.messages[i]) for i, row in enumerate(found)]


def resolve(
    pending: Pending,
    state: BatchState,
    recorded_at: str,
    messages: list[Message] | None = None,
) -> tuple[list[list[Envelope[Message]]], list[Row]]:
    """Decide the rows ``pending`` appends and the envelopes its caller gets back.

    On success ``state`` is advanced past the new rows, and each new row's message is
    added to ``messages`` (in row order); on error both are left as they were.

    Raises:
        WrongExpectedVersionError: a stream is not at the version its write expects.
        EventIdConflictError: an event id is recorded with other content.

    """
    overlay: dict[str, int] = {}
    fresh: dict[bytes, Row] = {}
    results: list[list[Envelope[Message]]] = []
    rows: list[Row] = []
    new_messages: list[Message] = []
    position = state.position
    previous = state.previous_hash
    timestamp = datetime.fromisoformat(recorded_at)
    want = pending.want_records
    for write in pending.writes:
        if write.explicit_ids:
            repeat = _already_recorded(write, state.recorded, fresh)
            if repeat is not None:
                results.append(repeat)
                continue
        stream_id = write.stream_id
        actual = overlay.get(stream_id, state.versions.get(stream_id, 0))
        if not check(write.expected, actual):
            raise WrongExpectedVersionError(stream_id, describe(write.expected), actual)
        envelopes: list[Envelope[Message]] = []
        causation = None if write.causation_id is None else UUID(bytes=write.causation_id)
        correlation_id, causation_id = write.correlation_id, write.causation_id
        encoded = zip(write.messages, write.texts, write.event_ids, strict=True)
        for message, text, event_id in encoded:
            position += 1
            actual += 1
            kind = type(message)
            type_name, version = kind.message_type, kind.message_version
            previous = record_hash(
                previous, position, stream_id, actual, event_id, type_name, version,
                recorded_at, correlation_id, causation_id, text,
            )
            row: Row = (
                position, stream_id, actual, event_id, type_name, version,
                recorded_at, correlation_id, causation_id, text, previous,
            )
            rows.append(row)
            new_messages.append(message)
            if write.explicit_ids:
                fresh[event_id] = row
            if want:
                envelopes.append(
                    _new(
                        Envelope,
                        (position, stream_id, actual, uuid_from_bytes(event_id), type_name,
                         version, timestamp, correlation_id, causation, message),
                    )
                )
        overlay[stream_id] = actual
        results.append(envelopes)
    if messages is not None:
        messages.extend(new_messages)
    state.versions.update(overlay)
    state.position = position
    state.previous_hash = previous
    state.recorded.update(fresh)
    return results, rows
