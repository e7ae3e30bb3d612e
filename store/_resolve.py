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

from sagalog.events import Envelope, Message, uuid_from_bytes
from sagalog.store._chain import record_hash
from sagalog.store._errors import EventIdConflictError, WrongExpectedVersionError
from sagalog.store._expected import check, describe

if TYPE_CHECKING:
    from sagalog.store._append import Checkpoint, PreparedWrite

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


def _recorded_rows(
    write: PreparedWrite, known: dict[bytes, Row], fresh: dict[bytes, Row]
) -> list[Row | None]:
    """For each message of ``write``, its stored row if its event id is recorded.

    Raises:
        EventIdConflictError: an id is recorded with other content.

    """
    rows = [known.get(event_id) or fresh.get(event_id) for event_id in write.event_ids]
    for index, row in enumerate(rows):
        if row is not None and not _same_content(row, write, index):
            raise EventIdConflictError(
                UUID(bytes=row[3]), "is already recorded with different content", row[0]
            )
    return rows


def _prior(
    write: PreparedWrite, state: BatchState, fresh: dict[bytes, Row], actual: int
) -> list[Row | None] | None:
    """What of ``write`` is recorded already (None: nothing), after the version check.

    Part of an append may be recorded already, identically: only an import of an export
    cut inside an append leaves that. Its missing records are then appended at the
    stream's end (no version check: the append was checked when first made), so
    re-running whatever made it completes it.
    """
    if write.explicit_ids:
        recorded = _recorded_rows(write, state.recorded, fresh)
        if any(row is not None for row in recorded):
            return recorded
    if not check(write.expected, actual):
        raise WrongExpectedVersionError(write.stream_id, describe(write.expected), actual)
    return None


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
    for number, write in enumerate(pending.writes):
        stream_id = write.stream_id
        actual = overlay.get(stream_id, state.versions.get(stream_id, 0))
        try:
            recorded = _prior(write, state, fresh, actual)
        except (WrongExpectedVersionError, EventIdConflictError) as error:
            error.write_index = number  # which request: an import names its line by it
            raise
        if recorded is not None and None not in recorded:  # a repeat: answer what is stored
            results.append([envelope(row, write.messages[i])
                            for i, row in enumerate(recorded) if row is not None])
            continue
        envelopes: list[Envelope[Message]] = []
        causation = None if write.causation_id is None else UUID(bytes=write.causation_id)
        correlation_id, causation_id = write.correlation_id, write.causation_id
        encoded = zip(write.messages, write.texts, write.event_ids, strict=True)
        for index, (message, text, event_id) in enumerate(encoded):
            stored = recorded[index] if recorded is not None else None
            if stored is not None:
                if want:
                    envelopes.append(envelope(stored, message))
                continue
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
