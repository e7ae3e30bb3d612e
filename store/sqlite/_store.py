"""The SQLite event store: the embedded default backend, synchronous like its callers.

One core, two halves. Writes go to the writer thread (``_writer``), which owns the write
connection and group-commits appends from every thread; a caller blocks on its future,
answered after COMMIT, with no event loop between. Reads run on the caller's own thread
through a read-only connection of that thread (``_reader``): WAL lets them proceed beside
the writer, and no thread hop sits on the path of an actor, the idle check or a saga's
start-up. Subscriptions read the same way and are woken (and fed) by the writer's commit
signal. asyncio code uses :class:`sagalog.store.AsyncEventStore`, a thin face over this.

A read-only store has no writer at all: readers only, by the URI that cannot write (see
``_access``). An in-memory database (``:memory:``) has a single connection, the writer's,
so there every read is answered on the writer thread, in order with the writes: nothing
uncommitted is ever read.

Importing this module loads neither pydantic nor loguru: ``list`` opens a log read-only to
read its runs table, and takes 0.07 s in all. Decoding and writing import what they need.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from uuid import UUID

from sagalog.store._checks import (
    check_checkpoint,
    check_event_id,
    check_expected_position,
    check_limit,
    check_metadata,
    check_number,
    check_query,
)
from sagalog.store._contract import RawRecord, RunFacts, RunPage, RunQuery, RunStatusHook
from sagalog.store._errors import (
    NotADatabaseError,
    ReadOnlyStoreError,
    StoreClosedError,
    StoreError,
)
from sagalog.store._expected import ANY, ExpectedVersion
from sagalog.store._ids import check_id
from sagalog.store._types import type_names
from sagalog.store.sqlite import _statements as sql
from sagalog.store.sqlite._access import check_writable, read_only_uri
from sagalog.store.sqlite._lock import file_lock, memory_lock
from sagalog.store.sqlite._reader import ReaderPool
from sagalog.store.sqlite._runs import legacy_runs, query_run, query_runs
from sagalog.store.sqlite._schema import check_file

if TYPE_CHECKING:
    from concurrent.futures import Future
    from contextlib import AbstractContextManager

    from sagalog.events import Envelope, Message, Registry
    from sagalog.store._append import AppendRequest, Checkpoint
    from sagalog.store._blocking import SyncSubscription
    from sagalog.store._factory import Durability
    from sagalog.store._resolve import Pending
    from sagalog.store._signal import CommitSignal
    from sagalog.store._verify import VerifyReport
    from sagalog.store.sqlite._writer import Outcome, Writer, WriterStats

__all__ = ["SqliteEventStore"]

READ_PAGE = 1000
"""Records a paging read fetches per statement."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqliteEventStore:
    """An append-only event store in one SQLite file (or in memory); safe from any thread.

    Open it with :func:`sagalog.store.open_store` (or :meth:`open`)::

        with open_store("app.db") as store:
            store.append("order-1", [OrderPlaced(order_id="1")], expected_version=NO_STREAM)
            for record in store.read_stream("order-1"):
                print(record.position, record.type, record.data)
            print(store.verify())
    """

    def __init__(
        self,
        path: str,
        *,
        durability: Durability,
        registry: Registry | None,
        clock: Callable[[], datetime],
        poll_interval: float,
        read_only: bool,
    ) -> None:
        """Use :meth:`open`; this builds the store without opening anything."""
        self.path = path
        """The database file, or ``:memory:``."""
        self.durability: Durability = durability
        """The durability setting in force."""
        self._registry = registry
        self._clock = clock
        self._poll_interval = poll_interval
        self._read_only = read_only
        self._memory = path == ":memory:"
        self.read_uri = None if self._memory else read_only_uri(path)
        """The URI every reader opens the file by (read-only; None in memory)."""
        self._readers = None if self._memory else ReaderPool(self.read_uri or "", path)
        self._writer: Writer | None = None
        self._schema = 0
        self._hooks: tuple[RunStatusHook, ...] = ()
        self._signal: CommitSignal | None = None
        self._closed = False
        self._lock = threading.Lock()

    # -- opening and closing ---------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        durability: Durability = "full",
        registry: Registry | None = None,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float = 0.05,
        read_only: bool = False,
        run_status: Iterable[RunStatusHook] = (),
    ) -> SqliteEventStore:
        """Open (creating if needed, unless ``read_only``) the log at ``path``.

        See :func:`sagalog.store.open_store` for the arguments.

        Raises:
            NotADatabaseError: the file is not an SQLite (or not a sagalog) database; read
                only: the file is missing or empty.
            CorruptDatabaseError: the file is damaged or truncated.
            SchemaVersionError: the file was written by a newer sagalog.
            ReadOnlyLogError: writable, but the file or its folder is read-only.
            UnreadableLogError: read-only, but SQLite cannot read it where it lies.
                In each case the file is left byte-for-byte unchanged.

        """
        name = os.fspath(path)
        if not name:
            msg = "the log's path is empty; name its file"
            raise StoreError(msg)
        if read_only:
            _check_readable(name)
        elif name != ":memory:":
            check_writable(name)
        if name != ":memory:":
            check_file(name)
        store = cls(name, durability=durability, registry=registry, clock=clock or _utc_now,
                    poll_interval=poll_interval, read_only=read_only)
        try:
            store._open(run_status)
        except BaseException:
            store.close()
            raise
        return store

    def _open(self, run_status: Iterable[RunStatusHook]) -> None:
        if self._read_only:
            from sagalog.store.sqlite._opening import check_readable_schema  # noqa: PLC0415

            assert self._readers is not None  # noqa: S101 - a file, since read-only
            self._schema = check_readable_schema(self._readers.query, self.path)
            self._hooks = tuple(run_status)
            return
        from sagalog.store._signal import CommitSignal  # noqa: PLC0415 - writers only
        from sagalog.store.sqlite._writer import Writer  # noqa: PLC0415 - writers only

        self._signal = CommitSignal()
        self._writer = Writer(self.path, self.durability, self._now, self._signal,
                              registry=self.registry)
        self._writer.open().result()
        for hook in run_status:
            self.add_run_status(hook)
        from loguru import logger  # noqa: PLC0415 - a writer logs; a reader stays light

        logger.bind(store=self.path).debug("sagalog store opened ({} durability)",
                                           self.durability)

    def close(self) -> None:
        """Commit what is queued, then close the connections and the writer. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self._readers is not None:  # first: the writer's close must be the last one,
                self._readers.close()      # which folds the WAL into the file (as before)
            if self._writer is not None:
                self._writer.close().result()
        finally:
            if self._signal is not None:
                self._signal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what it is ------------------------------------------------------------------

    @property
    def target(self) -> str:
        """The path it was opened from."""
        return self.path

    @property
    def read_only(self) -> bool:
        """Opened with ``read_only=True``: nothing can be written through it."""
        return self._read_only

    @property
    def registry(self) -> Registry:
        """The message registry records are decoded with (default: the process-wide one).

        The default is looked up on first use: it imports pydantic, which a read-only
        open that reads only the runs table (``list``) never needs.
        """
        if self._registry is None:
            from sagalog.events import registry as default_registry  # noqa: PLC0415

            self._registry = default_registry
        return self._registry

    @property
    def signal(self) -> CommitSignal:
        """Told of every commit of this store (subscriptions wait on it)."""
        with self._lock:
            if self._signal is None:  # a reader: only other processes write
                from sagalog.store._signal import CommitSignal  # noqa: PLC0415

                self._signal = CommitSignal()
            return self._signal

    @property
    def stats(self) -> WriterStats:
        """Counters of the group-commit writer (transactions, appends, records)."""
        from sagalog.store.sqlite._writer import WriterStats  # noqa: PLC0415

        return self._writer.stats if self._writer is not None else WriterStats()

    # -- writing ---------------------------------------------------------------------

    def append(
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
            InvalidStreamIdError, UnportableValueError, StoreError: bad input.
                In every case nothing was written.

        """
        from sagalog.store._append import AppendRequest  # noqa: PLC0415

        request = AppendRequest(
            stream_id, messages, expected_version, correlation_id, causation_id, event_ids
        )
        (records,) = self.append_all([request], checkpoint=checkpoint)
        return records

    def append_all(
        self,
        requests: Sequence[AppendRequest],
        *,
        checkpoint: Checkpoint | None = None,
        want_records: bool = True,
    ) -> list[list[Envelope[Message]]]:
        """Append to several streams and move a checkpoint, all in one transaction.

        This is how a handler commits its outputs and its checkpoint together. If any
        request fails its checks, nothing of any of them is written. The requests are
        checked and encoded on the calling thread, then handed straight to the writer
        thread; this blocks until COMMIT. With ``want_records=False`` the answer is empty
        lists (no envelopes are built: an actor's commit needs none).
        """
        pending = self.pending(requests, checkpoint)
        pending.want_records = want_records
        return self._writing().submit(pending).result()

    def append_stream(
        self,
        batches: Iterable[Sequence[AppendRequest]],
        *,
        checkpoints: dict[str, int] | None = None,
        expected_position: int | None = None,
    ) -> int:
        """Append every batch in ONE transaction, reading the batches as it goes (an import).

        All or nothing, like :meth:`append_all`, for more appends than memory should hold:
        each batch is checked and encoded on the caller's thread, written on the writer's
        inside the transaction, then dropped. A batch that fails its checks, or anything ``batches``
        raises, rolls everything back and is raised here. ``checkpoints`` move in the same
        transaction. Returns how many records were written (a record already stored under
        its event id, identically, is not written again). ``batches`` is iterated on the
        caller's thread, a batch or two ahead of the writer: interrupted (Ctrl-C) wherever
        it waits, even on a pipe that never ends, the transaction is rolled back. With
        ``expected_position``, the log must end there once the write lock is held, or
        nothing is written (:class:`WrongExpectedPositionError`).
        """
        from sagalog.store.sqlite._handoff import Handoff  # noqa: PLC0415 - imports only

        writer = self._writing()
        checked = dict(check_checkpoint((name, position))
                       for name, position in (checkpoints or {}).items())
        expected = check_expected_position(expected_position)
        handoff = Handoff()
        future = writer.stream(handoff.pendings(), checked, expected)
        future.add_done_callback(lambda _answered: handoff.writer_stopped())
        try:
            for batch in batches:
                pending = self.pending(batch, None)
                pending.want_records = False  # nobody reads them: build no envelopes
                if not handoff.give(pending):
                    break  # the writer failed: its error is raised below
            handoff.finish()
        except BaseException:
            handoff.abort()
            with contextlib.suppress(BaseException):
                future.result()  # rolled back before the caller hears of it
            raise
        return future.result()

    def submit(self, requests: Sequence[AppendRequest], *,
               checkpoint: Checkpoint | None = None) -> Future[Outcome]:
        """Queue an append without waiting; the future is answered after COMMIT.

        For a thread that keeps many appends in flight (a driver placing work): group
        commit can put them in one transaction with the actors' outputs.
        """
        return self._writing().submit(self.pending(requests, checkpoint))

    def submit_async(self, requests: Sequence[AppendRequest], *,
                     checkpoint: Checkpoint | None = None) -> asyncio.Future[Outcome]:
        """:meth:`submit` for a coroutine: answered on the caller's loop, no thread hop."""
        return self._writing().submit_async(self.pending(requests, checkpoint))

    def pending(self, requests: Sequence[AppendRequest], checkpoint: Checkpoint | None
                ) -> Pending:
        """``requests`` checked and encoded here, on the caller's thread, for the writer."""
        from sagalog.store._append import prepare  # noqa: PLC0415
        from sagalog.store._resolve import Pending  # noqa: PLC0415

        self._check_open()
        writes = [prepare(request) for request in requests]
        if checkpoint is not None:
            checkpoint = check_checkpoint(checkpoint)
        return Pending(writes, checkpoint, sum(len(write.messages) for write in writes))

    def set_checkpoint(self, name: str, position: int) -> None:
        """Move subscriber ``name`` to ``position`` (it never moves backwards)."""
        from sagalog.store._append import Checkpoint  # noqa: PLC0415

        self.append_all([], checkpoint=Checkpoint(name, position))

    def set_metadata(self, key: str, value: str) -> None:
        """Record one of the log's own notes (see :meth:`metadata`)."""
        key, value = check_metadata(key, value)
        self._writing().set_metadata(key, value).result()

    def add_run_status(self, hook: RunStatusHook) -> None:
        """Install ``hook`` (once per name) and fill the statuses of runs written before."""
        if not isinstance(hook, RunStatusHook):
            msg = f"add_run_status takes a RunStatusHook, not {hook!r}"
            raise StoreError(msg)
        self._writing().install_hook(hook).result()

    def worker_lock(self, owner: str) -> AbstractContextManager[None]:
        """Hold the log's worker lock (``<log>.worker.lock``) for the ``with`` block."""
        self._writing()
        if self._memory:
            return memory_lock(id(self), self.path, owner)
        return file_lock(self.path, owner)

    def _writing(self) -> Writer:
        self._check_open()
        if self._writer is None:
            msg = f"{self.path}: the store was opened read-only; nothing was written"
            raise ReadOnlyStoreError(msg)
        return self._writer

    # -- reading ---------------------------------------------------------------------

    def last_position(self) -> int:
        """The position of the last record in the log, 0 if it is empty."""
        return int(self._run(sql.HEAD)[0][0] or 0)

    def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last record, 0 if it has none."""
        check_id(stream_id)
        return int(self._run(sql.stream_version(stream_id))[0][0] or 0)

    def read_all(self, from_position: int = 1, *, types: Iterable[type[Message] | str] | None
                 = None) -> Iterator[Envelope[Message]]:
        """The whole log from ``from_position`` on (inclusive), in position order.

        Pages of :data:`READ_PAGE` records, read on the calling thread: memory stays flat
        on any size of log.
        """
        names = type_names(types)
        position = check_number(from_position, "from_position")
        while True:
            page = self._page(position, READ_PAGE, names)
            yield from page
            if len(page) < READ_PAGE:
                return
            position = page[-1].position + 1

    def read_page(self, from_position: int, limit: int, *,
                  types: Iterable[type[Message] | str] | None = None
                  ) -> list[Envelope[Message]]:
        """Up to ``limit`` records from ``from_position`` on, decoded, in one query."""
        return self._page(check_number(from_position, "from_position"), check_limit(limit),
                          type_names(types))

    def _page(self, from_position: int, limit: int, names: list[str] | None
              ) -> list[Envelope[Message]]:
        return self._decode(self._run(sql.page(from_position, limit, names)))

    def read_raw(self, from_position: int, limit: int) -> list[RawRecord]:
        """Up to ``limit`` records from ``from_position`` on, as stored (undecoded).

        For tools that must show or copy records this code cannot decode (an unknown type).
        """
        new = tuple.__new__
        statement = sql.raw_page(check_number(from_position, "from_position"),
                                 check_limit(limit))
        return [new(RawRecord, row) for row in self._run(statement)]

    def read_stream(self, stream_id: str, from_version: int = 1
                    ) -> Iterator[Envelope[Message]]:
        """The records of one stream from ``from_version`` on (inclusive), in order."""
        check_id(stream_id)
        version = check_number(from_version, "from_version")
        while True:
            page = self._decode(self._run(sql.stream_page(stream_id, version, READ_PAGE)))
            yield from page
            if len(page) < READ_PAGE:
                return
            version = page[-1].stream_version + 1

    def read_correlation(self, correlation_id: str, from_position: int = 1
                         ) -> Iterator[Envelope[Message]]:
        """Every record of one saga or run (all its streams), in position order.

        Served by the index on (correlation_id, position), so it costs the size of the
        run, not of the log.
        """
        check_id(correlation_id, "correlation id")
        position = check_number(from_position, "from_position")
        while True:
            page = self._decode(self._run(
                sql.correlation_page(correlation_id, position, READ_PAGE)))
            yield from page
            if len(page) < READ_PAGE:
                return
            position = page[-1].position + 1

    def read_position(self, position: int) -> Envelope[Message] | None:
        """The record at ``position``, or None if there is none."""
        rows = self._run(sql.by_position(check_number(position, "position")))
        return self._decode(rows)[0] if rows else None

    def read_event(self, event_id: UUID) -> Envelope[Message] | None:
        """The record with ``event_id`` (served by the unique index), or None."""
        rows = self._run(sql.by_event(check_event_id(event_id)))
        return self._decode(rows)[0] if rows else None

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before ``moment`` (0 if none was).

        Times compare as stored, ISO 8601 in UTC with microseconds.
        """
        stamp = moment.astimezone(UTC).isoformat(timespec="microseconds")
        rows = self._query("SELECT max(position) FROM events WHERE recorded_at <= ?", (stamp,))
        return int(rows[0][0] or 0)

    def checkpoint(self, name: str) -> int:
        """Subscriber ``name``'s recorded position, 0 if it has none."""
        rows = self._run(sql.checkpoint(name))
        return int(rows[0][0]) if rows else 0

    def checkpoints(self) -> dict[str, int]:
        """Every subscriber's recorded position, by name (the actors that wrote the log)."""
        rows = self._run(sql.CHECKPOINTS)
        return {str(name): int(position) for name, position in rows}

    def runs(self, query: RunQuery) -> RunPage:
        """The runs answering ``query``, newest first, and how many do (the runs table).

        A log written by an older sagalog, opened read-only (so not upgraded), is
        summarised from its records instead, its statuses from the hooks given at open.
        """
        query = check_query(query)
        if self._legacy():
            return legacy_runs(self._query, self._decode, self._hooks, self._schema, query)
        return query_runs(self._query, query)

    def run(self, correlation_id: str) -> RunFacts | None:
        """One run's facts, or None if no record carries ``correlation_id``."""
        if self._legacy():
            check_id(correlation_id, "correlation id")
            found = legacy_runs(self._query, self._decode, self._hooks, self._schema,
                                RunQuery(limit=0), correlation_id)
            return found.runs[0] if found.runs else None
        return query_run(self._query, correlation_id)

    def _legacy(self) -> bool:
        """A read-only store on a file of an older schema (a writer upgrades at once)."""
        from sagalog.store.sqlite._schema import SCHEMA_VERSION  # noqa: PLC0415

        return self._read_only and self._schema < SCHEMA_VERSION

    def metadata(self) -> dict[str, str]:
        """The log's own notes (a bundle's source, say), by key."""
        if self._legacy():
            return {}
        return {str(key): str(value)
                for key, value in self._query("SELECT key, value FROM metadata ORDER BY key")}

    def subscribe(self, from_position: int = 1, *,
                  types: Iterable[type[Message] | str] | None = None) -> SyncSubscription:
        """Records from ``from_position`` on (inclusive): the past, then live appends.

        It reads and waits on the calling thread, through a connection of its own; live
        records of this process are pushed to it by the writer, other processes' are
        found by polling every ``poll_interval``. Close it when done.
        """
        from sagalog.store._blocking import SyncSubscription  # noqa: PLC0415
        from sagalog.store.sqlite._reader import direct_reader, sql_scan  # noqa: PLC0415

        self._check_open()
        check_number(from_position, "from_position")
        names = type_names(types)
        if self._memory:
            return SyncSubscription(sql_scan(self._query, self.registry), lambda: None,
                                    self.signal, from_position, names, self._poll_interval)
        query, close = direct_reader(self.read_uri or "", self.path)
        return SyncSubscription(sql_scan(query, self.registry), close, self.signal,
                                from_position, names, self._poll_interval)

    def wait_for_commit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a commit of this store; False if none came."""
        self._check_open()
        return self.signal.wait_for_commit(timeout)

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check the hash chain, the positions, and SQLite's ``quick_check``.

        Args:
            progress: called with the number of records checked so far, after each page.

        """
        from sagalog.store._verify import verify_rows  # noqa: PLC0415

        quick = "; ".join(str(row[0]) for row in self._query("PRAGMA quick_check"))

        def pages() -> Iterator[list[RawRecord]]:
            position = 1
            while True:
                rows = self._run(sql.stored_bytes_page(position, READ_PAGE * 5))
                if not rows:
                    return
                yield rows
                position = rows[-1][0] + 1

        return verify_rows(pages(), quick, progress)

    async def async_reads(self) -> Any:  # noqa: ANN401 - a SqliteAsyncReads, or None
        """The asyncio face's reads: aiosqlite on the same statements (None in memory)."""
        if self.read_uri is None:
            return None
        from sagalog.store.sqlite._aio import SqliteAsyncReads  # noqa: PLC0415

        return await SqliteAsyncReads.connect(self.read_uri, self.path, self.registry)

    # -- internals -------------------------------------------------------------------

    def _run(self, statement: sql.Statement) -> list[Any]:
        return self._query(*statement)

    def _query(self, text: str, params: tuple[Any, ...] = ()) -> list[Any]:
        self._check_open()
        if self._readers is not None:
            return self._readers.query(text, params)
        return self._writing().run(partial(_fetch, text, params)).result()

    def _decode(self, rows: list[Any]) -> list[Envelope[Message]]:
        from sagalog.store._decode import decode_rows  # noqa: PLC0415 - pydantic, on use

        return decode_rows(rows, self.registry)

    def _check_open(self) -> None:
        if self._closed:
            msg = "the event store is closed"
            raise StoreClosedError(msg)

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")


def _fetch(text: str, params: Sequence[Any], connection: Any) -> list[Any]:  # noqa: ANN401 - sqlite3
    if connection is None:
        msg = "the event store is closed"
        raise StoreClosedError(msg)
    return list(connection.execute(text, params).fetchall())


def _check_readable(path: str) -> None:
    """A read-only store needs a log file that exists: there is nothing to create."""
    if path == ":memory:":
        msg = "a read-only store needs a file; ':memory:' would always be empty"
        raise StoreError(msg)
    if Path(path).is_dir():
        raise NotADatabaseError("is a directory, not a log file; it was left unchanged",
                                path=path)
    if not Path(path).is_file():
        raise NotADatabaseError("no such log file (read-only: nothing is created)", path=path)
