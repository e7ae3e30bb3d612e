"""The SQLite event store: the default, embedded backend of the store contract.

Writes go through the writer thread (see ``_writer``), which owns the write connection
and group-commits. Reads go through an aiosqlite connection of their own, so they never
wait behind an fsync; WAL mode lets the two run side by side. An in-memory database
can have only one connection (a second ``:memory:`` connection is another database),
so there the writer thread answers the reads too, in order with the writes: nothing
uncommitted is ever read.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Self
from uuid import UUID

import aiosqlite
from loguru import logger

import sagalog.events._logging  # noqa: F401 - silent until the app turns logs on
from sagalog.events import Envelope, Message, Registry
from sagalog.events import registry as default_registry
from sagalog.store._access import check_writable, log_name, read_only_uri
from sagalog.store._append import AppendRequest, Checkpoint, prepare
from sagalog.store._blocking import SyncSubscription, direct_reader, sql_scan
from sagalog.store._decode import decode_rows
from sagalog.store._errors import NotADatabaseError, StoreClosedError, StoreError, translate
from sagalog.store._expected import ANY, ExpectedVersion
from sagalog.store._factory import Durability
from sagalog.store._ids import check_id
from sagalog.store._opening import BUSY_TIMEOUT_S, SYNCHRONOUS
from sagalog.store._resolve import Pending
from sagalog.store._scan import scan_query, scan_result
from sagalog.store._schema import COLUMNS, check_file
from sagalog.store._signal import CommitSignal
from sagalog.store._subscription import Subscription
from sagalog.store._verify import VerifyReport, verify_rows
from sagalog.store._writer import Outcome, Writer, WriterStats

__all__ = ["Durability", "SqliteEventStore"]

_READ_PAGE = 2000
_PAGE = f"SELECT {COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?"  # noqa: S608


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqliteEventStore:
    """An append-only event store in one SQLite file (or in memory).

    Open it with :meth:`open`::

        async with SqliteEventStore.open("app.db") as store:
            await store.append("order-1", [OrderPlaced(order_id="1")], expected_version=NO_STREAM)
            async for record in store.read_stream("order-1"):
                print(record.position, record.type, record.data)
    """

    def __init__(
        self,
        path: str,
        *,
        durability: Durability,
        registry: Registry,
        clock: Callable[[], datetime],
        poll_interval: float,
        read_only: bool = False,
        read_uri: str | None = None,
    ) -> None:
        """Use :meth:`open` or :meth:`connect`; this builds the store without opening it."""
        self.path = path
        """The database file, or ``:memory:``."""
        self.durability = durability
        """The durability setting in force."""
        self.registry = registry
        """The message registry records are decoded with."""
        self._clock = clock
        self._poll_interval = poll_interval
        self._memory = path == ":memory:"
        self._reader: aiosqlite.Connection | None = None
        self._signal = asyncio.Event()
        self._closed = False
        self.signal = CommitSignal()
        """Bumped by the writer thread after each commit; threads wait on it."""
        self.read_only = read_only
        """Opened with ``read_only=True``: appends raise, the file is never written."""
        self.read_uri = "" if self._memory else (read_uri or read_only_uri(path))
        """The ``file:`` URI every read connection opens (see :func:`read_only_uri`): chosen
        once, when the store opens, from what the file system allows where the log lies."""
        self._writer = Writer(path, durability, self._now, self.signal,
                              read_uri=self.read_uri if read_only else None)
        self._writer.on_commit = self._committed

    async def _open(self) -> None:
        self._writer.loop = asyncio.get_running_loop()
        try:
            await asyncio.wrap_future(self._writer.open())
        except BaseException:
            await asyncio.wrap_future(self._writer.close())
            raise
        if self._memory:
            return
        try:
            self._reader = await _connect_reader(self)
        except BaseException:
            await asyncio.wrap_future(self._writer.close())
            raise

    # -- opening and closing ---------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: str | Path,
        *,
        durability: Durability = "full",
        registry: Registry | None = None,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float = 0.05,
        read_only: bool = False,
    ) -> AsyncIterator[SqliteEventStore]:
        """Open (creating if needed) the store at ``path``; close it on exit.

        When opening fails, for any of the reasons under Raises, the file is left
        byte-for-byte unchanged.

        Args:
            path: a file path, or ``":memory:"``.
            durability: ``full`` (fsync each commit, the default), ``normal`` or ``off``.
            registry: the message registry to decode with (default: the process-wide one).
            clock: where ``recorded_at`` comes from (default: the system clock, UTC).
            poll_interval: how often a caught-up subscription looks for appends made by
                other processes, in seconds.
            read_only: open an existing log so that nothing can write to it: appends
                and checkpoints raise :class:`ReadOnlyStoreError`, and closing does not
                checkpoint the WAL, so the file stays byte-for-byte as it was (the
                history commands read this way, also while a worker writes).

        Raises:
            NotADatabaseError: the file is not an SQLite (or not a sagalog) database; read
                only: the file is missing or empty.
            CorruptDatabaseError: the file is damaged or truncated.
            SchemaVersionError: the file was written by a newer sagalog.
            UnreadableLogError: this user may not read the log, or it lies in a read-only
                folder with a WAL that SQLite cannot read there (the message says what to
                do). A read-only folder or mount is otherwise fine for ``read_only``.
            ReadOnlyLogError: not ``read_only``, and the file, its WAL or its folder
                cannot be written (a read-only file, folder or mount).

        """
        store = await cls.connect(
            path, durability=durability, registry=registry, clock=clock,
            poll_interval=poll_interval, read_only=read_only,
        )
        try:
            yield store
        finally:
            await store.close()

    @classmethod
    async def connect(
        cls,
        path: str | Path,
        *,
        durability: Durability = "full",
        registry: Registry | None = None,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float = 0.05,
        read_only: bool = False,
    ) -> SqliteEventStore:
        """Open the store without a context manager; the caller must :meth:`close` it."""
        name = str(path)
        if durability not in SYNCHRONOUS:
            msg = f"durability must be 'full', 'normal' or 'off', not {durability!r}"
            raise StoreError(msg)
        read_uri = None
        if read_only:
            _check_readable(name)
        else:
            check_writable(name)  # refused now, rather than at the first append
        if name != ":memory:":
            read_uri = read_only_uri(name)  # also refuses a file this user may not read
            check_file(name)
        store = cls(
            name, durability=durability, registry=registry or default_registry,
            clock=clock or _utc_now, poll_interval=poll_interval, read_only=read_only,
            read_uri=read_uri,
        )
        await store._open()
        logger.bind(store=name).debug("sagalog store opened ({} durability)", durability)
        return store

    @property
    def stats(self) -> WriterStats:
        """Counters of the group-commit writer (transactions, appends, records)."""
        return self._writer.stats

    async def close(self) -> None:
        """Commit what is queued, then close the connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await asyncio.wrap_future(self._writer.close())
        self.signal.close()
        self._committed()  # wake subscriptions so they notice the close
        if self._reader is not None:
            await self._reader.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- writing ---------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        messages: Sequence[Message],
        *,
        expected_version: ExpectedVersion = ANY,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
        event_ids: Sequence[UUID] | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[Envelope[Message]]:
        """Append ``messages`` to ``stream_id``, atomically, and return their records.

        All or nothing: when it raises, nothing was written.

        Args:
            stream_id: the stream to append to (non-empty, no control characters).
            messages: registered events or commands, stored in this order.
            expected_version: ``ANY``, ``NO_STREAM``, ``STREAM_EXISTS`` or an exact version.
            correlation_id: the saga or run the messages belong to.
            causation_id: the event id of the message that caused these.
            event_ids: ids to record the messages under (default: new time-ordered ids).
                Appending ids already recorded with identical content returns the stored
                records and appends nothing.
            checkpoint: a subscriber position to move in the same transaction.

        Raises:
            WrongExpectedVersionError: the stream is not at ``expected_version``.
            EventIdConflictError: an event id is recorded with other content.
            InvalidStreamIdError: a stream or correlation id is empty, too long or holds
                refused characters.
            UnportableValueError: a message holds a value a stricter database refuses
                (NUL, NaN, Infinity, lone surrogates).
            StoreError: other bad input, or the store is closed.

        """
        request = AppendRequest(
            stream_id, messages, expected_version, correlation_id, causation_id, event_ids
        )
        (records,) = await self.append_all([request], checkpoint=checkpoint)
        return records

    async def append_all(
        self, requests: Sequence[AppendRequest], *, checkpoint: Checkpoint | None = None
    ) -> list[list[Envelope[Message]]]:
        """Append to several streams and move a checkpoint, all in one transaction.

        This is how a handler commits its outputs and its subscriber checkpoint together.
        If any request fails its checks, nothing of any of them is written.
        """
        return await self._writer.submit_async(self._pending(requests, checkpoint))

    def append_all_blocking(
        self,
        requests: Sequence[AppendRequest],
        *,
        checkpoint: Checkpoint | None = None,
        want_records: bool = True,
    ) -> Outcome:
        """:meth:`append_all` for plain threads: blocks until COMMIT, needs no event loop.

        The requests are checked and encoded on the calling thread and handed straight
        to the writer thread, which is how actors append without two thread hops. With
        ``want_records=False`` the answer is empty lists (no envelopes are built).
        """
        pending = self._pending(requests, checkpoint)
        pending.want_records = want_records
        return self._writer.submit(pending).result()

    def submit_stream(self, batches: Iterable[Sequence[AppendRequest]]) -> Future[int]:
        """Append every batch of requests in ONE transaction, reading the batches as it goes.

        All or nothing, like :meth:`append_all`, for more appends than memory should hold at
        once (an import): each batch is checked, encoded and written on the writer thread
        inside the transaction, then dropped. A batch that fails its checks, or anything
        ``batches`` raises, rolls everything back and is the future's exception. The
        future's result is how many records were written (a record already stored under
        its event id, identically, is not written again).
        """
        self._check_open()

        def pendings() -> Iterator[Pending]:
            for batch in batches:
                pending = self._pending(batch, None)
                pending.want_records = False  # nobody reads them: build no envelopes
                yield pending

        return self._writer.stream(pendings())

    def _pending(
        self, requests: Sequence[AppendRequest], checkpoint: Checkpoint | None
    ) -> Pending:
        self._check_open()
        writes = [prepare(request) for request in requests]
        if checkpoint is not None:
            checkpoint = _check_checkpoint(checkpoint)
        return Pending(writes, checkpoint, sum(len(write.messages) for write in writes))

    async def set_checkpoint(self, name: str, position: int) -> None:
        """Move subscriber ``name`` to ``position`` (it never moves backwards)."""
        await self.append_all([], checkpoint=Checkpoint(name, position))

    # -- reading ---------------------------------------------------------------------

    async def read_stream(
        self, stream_id: str, from_version: int = 0
    ) -> AsyncIterator[Envelope[Message]]:
        """The records of one stream from ``from_version`` on (inclusive), in order."""
        version = from_version
        while True:
            page = await self.read_stream_page(stream_id, version, _READ_PAGE)
            for record in page:
                yield record
            if len(page) < _READ_PAGE:
                return
            version = page[-1].stream_version + 1

    async def read_stream_page(
        self, stream_id: str, from_version: int, limit: int
    ) -> list[Envelope[Message]]:
        """Up to ``limit`` records of one stream from ``from_version`` on, in one query."""
        check_id(stream_id)
        rows = await self._query(
            f"SELECT {COLUMNS} FROM events WHERE stream_id = ? AND stream_version >= ? "  # noqa: S608
            "ORDER BY stream_version LIMIT ?",
            (stream_id, from_version, limit),
        )
        return decode_rows(rows, self.registry)

    async def read_all(
        self, from_position: int = 0, *, types: Iterable[type[Message] | str] | None = None
    ) -> AsyncIterator[Envelope[Message]]:
        """The whole log from ``from_position`` on (inclusive), in position order.

        Fetches pages of a few thousand records, so memory stays flat on any size of log
        (two pages at most: the reader thread fetches the next page while this one is
        decoded, which overlaps SQLite's b-tree walk with the decoding).
        """
        names = _type_names(types)
        fetch = asyncio.ensure_future(self._query(*self._page_query(from_position, _READ_PAGE,
                                                                     names)))
        try:
            while True:
                rows = await fetch
                if len(rows) == _READ_PAGE:
                    after = rows[-1][0] + 1
                    fetch = asyncio.ensure_future(
                        self._query(*self._page_query(after, _READ_PAGE, names))
                    )
                for record in decode_rows(rows, self.registry):
                    yield record
                if len(rows) < _READ_PAGE:
                    return
        finally:
            if not fetch.done():
                fetch.cancel()

    async def read_page(
        self,
        from_position: int,
        limit: int,
        *,
        types: Iterable[type[Message] | str] | None = None,
    ) -> list[Envelope[Message]]:
        """Up to ``limit`` records from ``from_position`` on, decoded, in one query."""
        sql, params = self._page_query(from_position, limit, types)
        return decode_rows(await self._query(sql, params), self.registry)

    async def read_correlation(
        self, correlation_id: str, from_position: int = 0, limit: int = _READ_PAGE
    ) -> list[Envelope[Message]]:
        """Up to ``limit`` records of one saga or run (all its streams), in position order.

        Served by the index on (correlation_id, position), so it costs the size of the
        saga, not of the log.
        """
        check_id(correlation_id, "correlation id")
        rows = await self._query(
            f"SELECT {COLUMNS} FROM events WHERE correlation_id = ? AND position >= ? "  # noqa: S608
            "ORDER BY position LIMIT ?",
            (correlation_id, from_position, limit),
        )
        return decode_rows(rows, self.registry)

    async def read_position(self, position: int) -> Envelope[Message] | None:
        """The record at ``position``, or None if there is none."""
        rows = await self._query(
            f"SELECT {COLUMNS} FROM events WHERE position = ?", (position,)  # noqa: S608
        )
        return decode_rows(rows, self.registry)[0] if rows else None

    async def read_event(self, event_id: UUID) -> Envelope[Message] | None:
        """The record with ``event_id`` (served by the unique index), or None."""
        rows = await self._query(
            f"SELECT {COLUMNS} FROM events WHERE event_id = ?", (event_id.bytes,)  # noqa: S608
        )
        return decode_rows(rows, self.registry)[0] if rows else None

    async def checkpoints(self) -> dict[str, int]:
        """Every subscriber's recorded position, by name (the actors that wrote the log)."""
        rows = await self._query("SELECT name, position FROM checkpoints ORDER BY name", ())
        return {str(name): int(position) for name, position in rows}

    async def read_rows(self, from_position: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` stored rows, undecoded: the envelope columns then ``hash``.

        For tools that must show records this code cannot decode (an unknown type).
        """
        rows = await self._query(
            f"SELECT {COLUMNS}, hash FROM events WHERE position >= ? "  # noqa: S608
            "ORDER BY position LIMIT ?",
            (from_position, limit),
        )
        return [tuple(row) for row in rows]

    def subscribe(
        self,
        from_position: int = 0,
        *,
        types: Iterable[type[Message] | str] | None = None,
    ) -> Subscription:
        """Records from ``from_position`` on (inclusive): the past, then live appends.

        Args:
            from_position: the first position to deliver (inclusive; 0 means all).
            types: only records of these message types (classes or registered names).

        """
        self._check_open()
        wanted = _type_names(types)

        async def fetch(position: int, limit: int) -> tuple[list[Envelope[Message]], int]:
            if self._closed:
                msg = "the event store is closed"
                raise StoreClosedError(msg)
            return await self._scan(position, limit, wanted)

        return Subscription(fetch, lambda: self._signal, from_position, self._poll_interval)

    def subscribe_blocking(
        self,
        from_position: int = 0,
        *,
        types: Iterable[type[Message] | str] | None = None,
    ) -> SyncSubscription:
        """:meth:`subscribe` for a plain thread: it reads and waits on the calling thread.

        Safe to call from any thread; close the subscription when done with it.
        """
        self._check_open()
        names = _type_names(types)
        if self._memory:
            writer = self._writer

            def through_writer(sql: str, params: tuple[Any, ...]) -> list[Any]:
                return writer.run(partial(_fetch, sql, params)).result()

            return SyncSubscription(sql_scan(through_writer, self.registry), lambda: None,
                                    self.signal, from_position, names, self._poll_interval)
        query, close = direct_reader(self.read_uri, self.path)
        return SyncSubscription(sql_scan(query, self.registry), close, self.signal,
                                from_position, names, self._poll_interval)

    async def _scan(
        self, position: int, limit: int, names: list[str] | None
    ) -> tuple[list[Envelope[Message]], int]:
        """Records from ``position`` on, and the position to scan from next (``_scan``)."""
        answer = await self._query(*scan_query(position, limit, names))
        return scan_result(answer, position, limit, self.registry)

    async def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last record, 0 if it has none."""
        check_id(stream_id)
        rows = await self._query(
            "SELECT max(stream_version) FROM events WHERE stream_id = ?", (stream_id,)
        )
        return int(rows[0][0] or 0)

    async def last_position(self) -> int:
        """The position of the last record in the log, 0 if it is empty."""
        rows = await self._query("SELECT max(position) FROM events", ())
        return int(rows[0][0] or 0)

    async def checkpoint(self, name: str) -> int:
        """Subscriber ``name``'s recorded position, 0 if it has none."""
        rows = await self._query("SELECT position FROM checkpoints WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    async def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check the hash chain, the positions, and SQLite's ``quick_check``.

        Args:
            progress: called with the number of records checked so far, after each page.

        """
        quick = await self._query("PRAGMA quick_check", ())
        quick_check = "; ".join(str(row[0]) for row in quick)

        async def pages() -> AsyncIterator[list[Any]]:
            position = 1
            while True:
                rows = await self.read_rows(position, _READ_PAGE * 5)
                if not rows:
                    return
                yield rows
                position = rows[-1][0] + 1

        return await verify_rows(pages(), quick_check, progress)

    async def wait_for_commit(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bounded wait is the point
        """Wait until this store commits something, up to ``timeout`` s; False if none."""
        signal = self._signal
        try:
            await asyncio.wait_for(signal.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- internals -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            msg = "the event store is closed"
            raise StoreClosedError(msg)

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")

    def _committed(self) -> None:
        signal, self._signal = self._signal, asyncio.Event()
        signal.set()

    def _page_query(
        self, from_position: int, limit: int, types: Iterable[type[Message] | str] | None
    ) -> tuple[str, tuple[Any, ...]]:
        names = _type_names(types)
        if names is None:
            return _PAGE, (from_position, limit)
        marks = ",".join("?" * len(names))
        sql = (
            f"SELECT {COLUMNS} FROM events WHERE position >= ? AND type IN ({marks}) "  # noqa: S608
            "ORDER BY position LIMIT ?"
        )
        return sql, (from_position, *names, limit)

    async def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self._check_open()
        try:
            if self._reader is None:  # in memory: the writer thread answers, in order
                return await asyncio.wrap_future(self._writer.run(partial(_fetch, sql, params)))
            return list(await self._reader.execute_fetchall(sql, params))
        except sqlite3.Error as error:
            raise translate(error, "reading", path=self.path) from error
        except ValueError as error:  # aiosqlite: "Connection closed"
            msg = f"the event store is closed ({error})"
            raise StoreClosedError(msg) from error


def _fetch(sql: str, params: Sequence[Any], connection: sqlite3.Connection | None) -> list[Any]:
    if connection is None:
        msg = "the event store is closed"
        raise StoreClosedError(msg)
    return connection.execute(sql, params).fetchall()


def _type_names(types: Iterable[type[Message] | str] | None) -> list[str] | None:
    if types is None:
        return None
    names = []
    for kind in types:
        if isinstance(kind, str):
            names.append(kind)
        elif isinstance(kind, type) and issubclass(kind, Message) and hasattr(kind, "message_type"):
            names.append(kind.message_type)
        else:
            msg = f"types must hold message classes or type names, not {kind!r}"
            raise StoreError(msg)
    return names


def _check_checkpoint(checkpoint: Checkpoint) -> Checkpoint:
    name, position = checkpoint
    if not isinstance(name, str) or not name:
        msg = f"checkpoint name must be a non-empty str, not {name!r}"
        raise StoreError(msg)
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        msg = f"checkpoint position must be an int >= 0, not {position!r}"
        raise StoreError(msg)
    return Checkpoint(name, position)


def _check_readable(path: str) -> None:
    """A read-only store needs a log file that exists: there is nothing to create."""
    log_name(path)
    if path == ":memory:":
        msg = "a read-only store needs a file; ':memory:' would always be empty"
        raise StoreError(msg)
    if not Path(path).is_file():
        raise NotADatabaseError("no such log file (read-only: nothing is created)", path=path)


async def _connect_reader(store: SqliteEventStore) -> aiosqlite.Connection:
    """The store's reader; a read-only store's opens by :attr:`read_uri`, so cannot write."""
    path, durability, read_only = store.path, store.durability, store.read_only
    try:
        reader = await aiosqlite.connect(
            store.read_uri if read_only else path, uri=read_only, isolation_level=None,
            timeout=BUSY_TIMEOUT_S, check_same_thread=False,
        )
    except sqlite3.Error as error:
        raise translate(error, "opening the reader", path=path) from error
    try:
        await reader.execute(f"PRAGMA synchronous = {SYNCHRONOUS[durability]}")
        await reader.execute("PRAGMA query_only = ON")
    except sqlite3.Error as error:
        await reader.close()
        raise translate(error, "opening the reader", path=path) from error
    return reader
