"""The store's errors, by what the caller can do about each.

``WrongExpectedVersionError`` and ``EventIdConflictError`` are about the caller's own
append and write nothing; ``DatabaseError`` and its children are about the file. No
``sqlite3`` exception leaves the store: the SQLite backend translates each at its boundary
(``sqlite._translate``), chained.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagalog.events import SagalogError

if TYPE_CHECKING:
    from uuid import UUID

__all__ = [
    "CorruptDatabaseError",
    "DatabaseError",
    "EventIdConflictError",
    "InvalidStreamIdError",
    "NotADatabaseError",
    "ReadOnlyLogError",
    "ReadOnlyStoreError",
    "SchemaVersionError",
    "StoreClosedError",
    "StoreError",
    "UnreadableLogError",
    "WrongExpectedPositionError",
    "WrongExpectedVersionError",
]


class StoreError(SagalogError):
    """Base class of the event store's errors."""


class InvalidStreamIdError(StoreError, ValueError):
    """A stream id (or correlation id) is empty, too long, or holds characters refused."""

    def __init__(self, what: str, value: object, reason: str) -> None:
        self.value = value
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:60] + "..." + shown[-12:]
        super().__init__(f"invalid {what} {shown}: {reason}")


class WrongExpectedVersionError(StoreError):
    """The stream is not at the version the append expected; nothing was written."""

    write_index: int | None = None
    """Which request of an ``append_all`` failed (its index), once the writer has said."""

    def __init__(self, stream_id: str, expected: object, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        now = "does not exist" if actual == 0 else f"is at version {actual}"
        super().__init__(
            f"append to stream {stream_id!r} expected {expected}, but the stream {now}; "
            "nothing was written"
        )


class WrongExpectedPositionError(StoreError):
    """The log does not end where an ``append_stream`` expected; nothing was written.

    An import that carries checkpoints expects an empty log (position 0): its records
    then take positions 1..N, which its checkpoints were computed for.
    """

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"the append expected the log to end at position {expected}, but it ends at "
            f"{actual} (another process appended meanwhile?); nothing was written"
        )


class EventIdConflictError(StoreError):
    """An event id is already recorded with other content, or only part of an append is."""

    write_index: int | None = None
    """Which request of an ``append_all`` failed (its index), once the writer has said."""

    def __init__(self, event_id: UUID, reason: str, position: int | None = None) -> None:
        self.event_id = event_id
        self.position = position
        where = f" (recorded at position {position})" if position is not None else ""
        super().__init__(f"event id {event_id}{where}: {reason}; nothing was written")


class StoreClosedError(StoreError):
    """The store was used after it was closed."""


class ReadOnlyStoreError(StoreError):
    """Something tried to write to a store opened with ``read_only=True``; nothing was written."""


class WorkerBusyError(StoreError):
    """Another runtime holds the log's worker lock: one handler-running runtime per log."""

    def __init__(self, message: str, *, pid: int | None = None, owner: str | None = None) -> None:
        self.pid = pid
        """The holder's process id, when the backend knows it (a client names it)."""
        self.owner = owner
        """What the holder said it is (``sagalog worker``...), when known."""
        super().__init__(message)


class DatabaseError(StoreError):
    """The database file or SQLite itself failed."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class StorageFaultError(DatabaseError):
    """A fault of the machine, not of the data: the disk is full, or an I/O error.

    Nothing about the work is wrong, and nothing is decided from it: whoever meets it (the
    runtime, an adapter writing its own files) pauses and retries once the fault clears,
    and tells whoever waits why it pauses. ``path`` names the file, when known.
    """


class DiskFullError(StorageFaultError):
    """The disk holding the file is full (SQLite's SQLITE_FULL, the system's ENOSPC)."""


class StorageIOError(StorageFaultError):
    """The file could not be read or written (SQLite's SQLITE_IOERR, the system's EIO)."""


class NotADatabaseError(DatabaseError):
    """The file is not an SQLite database, or not a sagalog one. It was left unchanged."""


class CorruptDatabaseError(DatabaseError):
    """The file is an SQLite database, but damaged (truncated, malformed). Left unchanged."""


class ReadOnlyLogError(DatabaseError):
    """The log cannot be written where it lies (a read-only file, folder or mount).

    Raised before SQLite opens it for writing: SQLite would open it read-only without a
    word and fail only at the first write. Nothing was written.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} is read-only: {reason}")
        self.path = path


class UnreadableLogError(DatabaseError):
    """The log cannot be read where it lies; the message says why and what to do.

    Either this user may not read one of its files, or the folder is read-only and holds
    something SQLite cannot read without writing beside it (see ``store._access``).
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} cannot be read here: {reason}")
        self.path = path


class SchemaVersionError(DatabaseError):
    """The database was written by a newer sagalog whose schema this code cannot read."""
