"""Reading a SQLite log on the caller's own thread: a read-only connection per thread.

Every caller of the store is a thread (an actor, a command, a history tool). A read on
the caller's thread, through a connection of its own, costs no hop to another thread
and back (the store's event loop and aiosqlite cost over a millisecond a page with every
core busy; ``what-if`` on 1,000,000 records: 48 s through them, 30 s this way). The
connections are opened by the read-only URI (``_access.read_only_uri``): a read-write
connection that happens to be the last one on the file checkpoints the WAL as it closes,
and a reader must never change a log.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sagalog.store._errors import StoreClosedError
from sagalog.store.sqlite._opening import BUSY_TIMEOUT_S
from sagalog.store.sqlite._translate import translate

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message, Registry
    from sagalog.store._blocking import Scan

__all__ = ["Query", "ReaderPool", "direct_reader", "sql_scan"]

Query = Callable[[str, tuple[Any, ...]], list[Any]]
"""Runs one read query and returns its rows."""


class _Reader:
    __slots__ = ("closed", "connection", "lock")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.lock = threading.Lock()
        self.closed = False


class ReaderPool:
    """One read-only connection per calling thread, opened on first use, closed together.

    Each thread's reads run on its own connection and in its own read transactions (one
    per statement), so readers never wait for each other or for the writer (WAL).
    """

    def __init__(self, uri: str, path: str) -> None:
        self._uri = uri
        self._path = path
        self._local = threading.local()
        self._readers: list[_Reader] = []
        self._lock = threading.Lock()
        self._closed = False

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        """Run one read statement on this thread's connection; its rows."""
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._open()
        with reader.lock:
            if reader.closed:
                msg = "the event store is closed"
                raise StoreClosedError(msg)
            try:
                return reader.connection.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise translate(error, "reading", path=self._path) from error

    def _open(self) -> _Reader:
        with self._lock:
            if self._closed:
                msg = "the event store is closed"
                raise StoreClosedError(msg)
            reader = _Reader(_connect(self._uri, self._path))
            self._readers.append(reader)
        self._local.reader = reader
        return reader

    def close(self) -> None:
        """Close every thread's connection; later reads raise :class:`StoreClosedError`."""
        with self._lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for reader in readers:
            with reader.lock:
                reader.closed = True
                reader.connection.close()


def _connect(uri: str, path: str) -> sqlite3.Connection:
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S,
                               check_same_thread=False)
    except sqlite3.Error as error:
        raise translate(error, "opening a reader", path=path) from error


def direct_reader(uri: str, path: str) -> tuple[Query, Callable[[], None]]:
    """A query function over a new connection opened by ``uri``, and its closer.

    ``uri`` is the store's :attr:`SqliteEventStore.read_uri` (which cannot write);
    ``path`` names the log in errors.

    After the closer has run, queries return no rows: a subscriber racing its own
    shutdown sees an empty log, not an error.
    """
    # ``mode=ro``, not only ``query_only``: a read-write connection that happens to be the
    # last one on the file checkpoints the WAL into the database as it closes.
    connection = _connect(uri, path)
    lock = threading.Lock()
    closed = False

    def query(sql: str, params: tuple[Any, ...]) -> list[Any]:
        with lock:
            if closed:
                return []
            try:
                return connection.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise translate(error, "reading", path=path) from error

    def close() -> None:
        nonlocal closed
        with lock:
            closed = True
            connection.close()

    return query, close


def sql_scan(query: Query, registry: Registry) -> Scan:
    """A :data:`Scan` that reads with ``query`` (one SQL statement per page)."""
    # The scan decodes (pydantic): imported by the first subscription, not by every open.
    from sagalog.store.sqlite._scan import scan_query, scan_result  # noqa: PLC0415

    def scan(position: int, limit: int, types: list[str] | None
             ) -> tuple[list[Envelope[Message]], int]:
        return scan_result(query(*scan_query(position, limit, types)), position, limit,
                           registry)

    return scan
