"""What the adapters' own SQLite files share: WAL set-up and one write transaction.

The demo ledger, the jobs table and search index, and the master pipeline's warehouse
are real databases outside the event store. Each write is one ``BEGIN IMMEDIATE``
transaction (the write lock first, so a look-up of an idempotency key and the write
after it cannot interleave with another process), committed on success and rolled
back on any error.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["set_wal", "write_transaction"]


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
