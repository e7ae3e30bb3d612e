"""What the adapters' own files share: WAL set-up, one write transaction, typed faults.

The demo ledger, the jobs table and search index, and the master pipeline's warehouse
are real databases outside the event store. Each write is one ``BEGIN IMMEDIATE``
transaction (the write lock first, so a look-up of an idempotency key and the write
after it cannot interleave with another process), committed on success and rolled
back on any error.

A full disk or an I/O error on any of these files (SQLite's or the system's) comes out
of :func:`faults_typed` as the store's :class:`DiskFullError` / :class:`StorageIOError`
naming the file, not as the adapter's own error or a failed effect: it is a fault of the
machine, for the runtime to wait out, not something a saga should decide from.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sagalog.store import storage_fault

__all__ = ["faults_typed", "raise_if_fault", "set_wal", "write_transaction"]


def raise_if_fault(error: BaseException, path: str | os.PathLike[str], doing: str) -> None:
    """Raise the store's typed fault that ``error`` is, chained; return if it is none.

    For an ``except`` clause that handles other errors its own way (a failed load).

    Raises:
        DiskFullError: SQLITE_FULL, ENOSPC or EDQUOT (the message names the file).
        StorageIOError: SQLITE_IOERR or EIO.

    """
    fault = storage_fault(error, doing, path=path)
    if fault is not None:
        raise fault from error


@contextmanager
def faults_typed(path: str | os.PathLike[str], doing: str) -> Iterator[None]:
    """Raise a full disk or an I/O error met in the block as the store's typed fault.

    ``sqlite3`` errors and ``OSError`` s that are neither pass through unchanged, for
    the caller's own handling (an adapter's error, a failed load).

    Raises:
        DiskFullError: SQLITE_FULL, ENOSPC or EDQUOT on ``path`` (named in the message).
        StorageIOError: SQLITE_IOERR or EIO on ``path``.

    """
    try:
        yield
    except (sqlite3.Error, OSError) as error:
        raise_if_fault(error, path, doing)
        raise


@contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Hold the write lock for the block; commit when it ends, roll back if it raises.

    The connection must be in autocommit mode (``isolation_level=None``).
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        if connection.in_transaction:
            connection.rollback()
        raise
    connection.commit()


def set_wal(connection: sqlite3.Connection) -> None:
    """Switch to WAL, retrying while another process does the same to a new file.

    Changing the journal mode needs an exclusive lock, and SQLite answers "database is
    locked" at once rather than waiting on the busy timeout when two processes race to
    set up the same new file (seen 1 in 90 with three processes).
    """
    for attempt in range(200):
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == 199:
                raise
            time.sleep(0.01)
        else:
            return
