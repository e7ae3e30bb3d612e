"""Opening the job workflow's own SQLite files (the jobs table, the search index).

Both are real databases outside the event store, written by the adapters from paths the
command messages carry. Each write is one ``BEGIN IMMEDIATE`` transaction that looks
for its idempotency key before changing anything, so a command handled again after a
crash changes nothing twice. Errors come out as :class:`JobsDatabaseError` naming the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sagalog.actors._errors import ActorRuntimeError
from sagalog.actors._local_db import faults_typed, set_wal, write_transaction

__all__ = ["JobsDatabaseError", "connect", "transaction", "translated"]

_BUSY_TIMEOUT_S = 30.0


class JobsDatabaseError(ActorRuntimeError):
    """The jobs database or the search index failed; the message names the file."""


@contextmanager
def translated(path: str | Path, what: str) -> Iterator[None]:
    """Turn a ``sqlite3`` error into a :class:`JobsDatabaseError` naming ``path``.

    A full disk or an I/O error is the store's :class:`DiskFullError` /
    :class:`StorageIOError` instead (see :func:`faults_typed`).
    """
    try:
        with faults_typed(path, what):
            yield
    except sqlite3.Error as error:
        raise JobsDatabaseError(f"{path}: {what} failed: {error}") from error


@contextmanager
def connect(path: str | Path, schema: tuple[str, ...]) -> Iterator[sqlite3.Connection]:
    """An open connection to ``path`` (WAL, synchronous FULL) with ``schema`` applied."""
    with translated(path, "opening"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    try:
        with translated(path, "opening"):
            set_wal(connection)
            connection.execute("PRAGMA synchronous = FULL")
            for statement in schema:
                connection.execute(statement)
        yield connection
    finally:
        connection.close()


@contextmanager
def transaction(connection: sqlite3.Connection, path: str | Path,
                what: str) -> Iterator[sqlite3.Connection]:
    """One write-locked transaction: committed on success, rolled back on any error."""
    with translated(path, what), write_transaction(connection):
        yield connection
