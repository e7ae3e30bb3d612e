"""Group commit on the writer's own thread: one transaction, one call, many appends.

The writer thread owns the write connection (a plain ``sqlite3`` connection, as
aiosqlite's worker thread owns its own) and runs each transaction whole: BEGIN
IMMEDIATE, read the log's head and the stream versions, resolve every queued append,
insert all rows with one ``executemany``, COMMIT. Callers queue their appends and
wait on a future that is answered only after COMMIT.

Why a thread of its own rather than aiosqlite calls: an aiosqlite call is a hop to its
thread and back, about 70 us idle and over 1 ms when actors keep both cores busy, and
a transaction made seven of them. Here it makes none. Threads (the actors, through
:class:`store.SyncEventStore`) hand appends to this thread directly; asyncio callers
get one wake-up of their loop per batch, not one per append.

``BEGIN IMMEDIATE`` takes the write lock up front: a plain ``BEGIN`` upgrades late and
fails with "database is locked" under concurrency. If the combined insert fails at the
database (a constraint or trigger the resolver could not foresee), the batch is redone
with a SAVEPOINT per append, so only the offending append fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from loguru import logger

import sagalog.events._logging  # noqa: F401 - silent until the app turns logs on
from sagalog.events import Envelope, Message, Registry
from sagalog.store._chain import GENESIS
from sagalog.store._contract import RunStatusHook
from sagalog.store._errors import (
    ReadOnlyStoreError,
    StoreClosedError,
    StoreError,
    WrongExpectedPositionError,
)
from sagalog.store._resolve import BatchState, Pending, Row, resolve
from sagalog.store._signal import CommitSignal
from sagalog.store.sqlite._opening import connect, prepare
from sagalog.store.sqlite._runs import RunKeeper
from sagalog.store.sqlite._schema import COLUMNS, SCHEMA_VERSION, upgrade_statements
from sagalog.store.sqlite._translate import translate

__all__ = ["GATHER_WINDOW_S", "Outcome", "Writer", "WriterStats"]

T = TypeVar("T")
Outcome = list[list[Envelope[Message]]]

_ROW_MARKS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ROWS_PER_INSERT = 500  # 5,500 bound values, far under SQLite's limit of 32,766
_MAX_BATCH_ROWS = 20_000
_CHUNK = 500  # bound parameters per query, well under SQLite's limit
_BUSY_RETRIES = 50
GATHER_WINDOW_S = 0.0003
"""Longest wait for the last batch's appenders to come back (see ``Writer._gather``).

Measured in the actor chain benchmark (chains/s, 3 runs each): no window 1,460;
0.3 ms 1,840-1,970; 0.5 ms 1,520-1,900; 1 ms 1,660; 2 ms 1,480.
"""


@dataclass(slots=True)
class WriterStats:
    """Counters of the group-commit writer, for benchmarks and tests."""

    transactions: int = 0
    """Transactions committed."""
    appends: int = 0
    """Appends (callers' units of work) answered with success."""
    records: int = 0
    """Records written."""
    largest_batch: int = 0
    """The most appends committed in one transaction."""


@dataclass(slots=True)
class _Append:
    pending: Pending
    future: Future[Outcome] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    waiter: asyncio.Future[Outcome] | None = None


@dataclass(slots=True)
class _Job:
    function: Callable[[sqlite3.Connection | None], Any]
    future: Future[Any]


_STOP = object()


class Writer:
    """The single writer of one store: its thread, its queue, its transactions.

    Given ``read_uri`` (a read-only store's, see :func:`store._access.read_only_uri`) it
    opens the file by that URI and refuses every append: it then only reads.
    """

    def __init__(
        self,
        path: str,
        durability: str,
        now: Callable[[], str],
        signal: CommitSignal,
        *,
        registry: Registry,
        read_uri: str | None = None,
    ) -> None:
        self._path = path
        self.runs = RunKeeper(registry, path)
        """The runs table's keeper: the hooks and the fold of each commit."""
        self._read_uri = read_uri
        self._read_only = read_uri is not None
        self._signal = signal
        self._durability = durability
        self._now = now
        self._queue: SimpleQueue[_Append | _Job | object] = SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sagalog-writer", daemon=True)
        self._connection: sqlite3.Connection | None = None
        self._version = SCHEMA_VERSION
        self._closed = False
        self._committed: tuple[list[Row], list[Message]] = ([], [])
        self.on_commit: Callable[[], None] = lambda: None
        """Called on the store's loop after each commit that wrote something."""
        self.loop: asyncio.AbstractEventLoop | None = None
        """The store's loop, where ``on_commit`` runs."""
        self.stats = WriterStats()
        """What this writer has done so far."""

    # -- lifecycle -----------------------------------------------------------------------

    def open(self) -> Future[None]:
        """Start the thread, which opens and checks the file; the future says how it went."""
        self._thread.start()
        return self.run(self._open)

    def _open(self, _: sqlite3.Connection | None) -> None:
        connection = connect(self._path, read_uri=self._read_uri)
        try:
            self._version = prepare(
                connection, self._path, self._durability, read_only=self._read_only
            )
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def close(self) -> Future[None]:
        """Commit everything already queued, close the connection, end the thread."""
        if self._closed:
            done: Future[None] = Future()
            done.set_result(None)
            return done
        self._closed = True
        future = self.run(self._close, force=True)
        self._queue.put(_STOP)
        return future

    def _close(self, connection: sqlite3.Connection | None) -> None:
        if connection is not None:
            connection.close()
        self._connection = None

    # -- submitting work -----------------------------------------------------------------

    def submit(self, pending: Pending) -> Future[Outcome]:
        """Queue ``pending`` from any thread; the future resolves after COMMIT."""
        self._check_open()
        self._check_writable()
        future: Future[Outcome] = Future()
        self._queue.put(_Append(pending, future=future))
        return future

    def submit_async(self, pending: Pending) -> asyncio.Future[Outcome]:
        """Queue ``pending`` from a coroutine; await the result on the caller's loop."""
        self._check_open()
        self._check_writable()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Outcome] = loop.create_future()
        self._queue.put(_Append(pending, loop=loop, waiter=waiter))
        return waiter

    def run(
        self, function: Callable[[sqlite3.Connection | None], T], *, force: bool = False
    ) -> Future[T]:
        """Run ``function(connection)`` on the writer thread, after what is queued.

        The connection is None before the file is open and after it is closed.
        """
        if not force:
            self._check_open()
        future: Future[T] = Future()
        self._queue.put(_Job(function, future))
        return future

    def install_hook(self, hook: RunStatusHook) -> Future[None]:
        """Install ``hook`` on the writer thread; it catches up on the log at the next commit.

        Installing writes nothing (opening a log never changes it): the first commit after
        it shows the hook every record it has not seen, in that commit's transaction (see
        ``_runs``).
        """
        self._check_open()
        self._check_writable()
        return self.run(functools.partial(self._install_hook, hook))

    def _install_hook(self, hook: RunStatusHook, connection: sqlite3.Connection | None) -> None:
        if connection is None:
            msg = "the event store is closed"
            raise StoreClosedError(msg)
        try:
            self.runs.install(connection, hook, scanned=self._version >= SCHEMA_VERSION)
        except sqlite3.Error as error:
            raise translate(error, "reading", path=self._path) from error

    def set_metadata(self, key: str, value: str) -> Future[None]:
        """Record one of the log's notes (``metadata`` table), in a transaction of its own."""
        self._check_open()
        self._check_writable()

        def write(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO metadata (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

        return self.run(functools.partial(self._in_transaction, action=write))

    def _in_transaction(self, connection: sqlite3.Connection | None,
                        action: Callable[[sqlite3.Connection], T], doing: str = "writing") -> T:
        """``action`` inside one transaction (begun, the schema upgraded, committed).

        Anything it raises rolls the transaction back; SQLite's errors come out as the
        store's own, saying what was being done.
        """
        if connection is None:
            msg = "the event store is closed"
            raise StoreClosedError(msg)
        try:
            if not connection.in_transaction:
                _begin(connection)
            if self._version < SCHEMA_VERSION:
                self._version = _upgrade(connection)
            result = action(connection)
            connection.execute("COMMIT")
        except BaseException as error:
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise translate(error, doing, path=self._path) from error
            raise
        return result

    def stream(self, pendings: Iterable[Pending],
               checkpoints: dict[str, int] | None = None,
               expected_position: int | None = None) -> Future[int]:
        """Append every one of ``pendings`` in ONE transaction, taking them as it goes.

        What an import needs: all or nothing, as one append is, without holding every
        append in memory at once. ``pendings`` is iterated here, on the writer thread,
        inside the transaction; anything it raises, and any append that fails its checks
        (a version or an event id), rolls the whole transaction back and becomes the
        future's exception. Appends queued meanwhile wait behind it (SQLite's write lock
        would hold them anyway). After the commit, subscriptions are woken to scan the
        log: nothing is pushed to them, since the records are not kept. The future's
        result is how many records were written. With ``expected_position``, the log's
        last position is checked once the write lock is held, before anything is written.
        """
        self._check_open()
        self._check_writable()
        return self.run(functools.partial(self._stream, pendings, checkpoints or {},
                                          expected_position))

    def _stream(self, pendings: Iterable[Pending], checkpoints: dict[str, int],
                expected_position: int | None, connection: sqlite3.Connection | None) -> int:
        def write(connection: sqlite3.Connection) -> tuple[int, set[str]]:
            _check_head(connection, expected_position)
            recorded_at = self._now()
            written, types = _write_stream(connection, pendings, recorded_at, self.runs)
            if checkpoints:
                _upsert_checkpoints(connection, [(name, position, recorded_at)
                                                 for name, position in checkpoints.items()])
            return written, types

        written, types = self._in_transaction(connection, write, "appending")
        if written:
            self.stats.transactions += 1
            self.stats.appends += 1
            self.stats.records += written
            self._signal.wake(types)
            if self.loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                    self.loop.call_soon_threadsafe(self.on_commit)
        return written

    def _check_writable(self) -> None:
        if self._read_only:
            msg = f"{self._path}: the store was opened read-only; nothing was written"
            raise ReadOnlyStoreError(msg)

    def _check_open(self) -> None:
        if self._closed:
            msg = "the event store is closed"
            raise StoreClosedError(msg)

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        returning = 1
        while True:
            items = self._gather(returning)
            stop, returning = self._serve(items)
            if stop:
                return

    def _gather(self, returning: int) -> list[object]:
        """The next item, and, briefly, the appenders of the last batch coming back.

        Callers answered by the last commit usually append again within a few hundred
        microseconds (an actor pulls its next records and hands in their outputs).
        Starting the next transaction without them splits a steady stream of appenders
        over twice the transactions: in the actor chain benchmark every record then
        advanced one stage every other commit. So after a batch of several appends the
        writer waits up to ``GATHER_WINDOW_S`` for as many to be queued again. A lone
        appender never waits: its next append is the one that ends the wait.
        """
        items = [self._queue.get()]
        if returning < 2 or not isinstance(items[0], _Append) or self._connection is None:
            return items
        # Take the write lock now: it costs as much as the wait, and overlaps it.
        try:
            _begin(self._connection)
        except sqlite3.Error:
            return items  # the transaction will try again, and answer the error
        deadline = time.monotonic() + GATHER_WINDOW_S
        while len(items) < returning and isinstance(items[-1], _Append):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                items.append(self._queue.get(timeout=left))
            except Empty:
                break
        return items

    def _serve(self, items: list[object]) -> tuple[bool, int]:
        """Serve ``items`` and all queued behind them, appends in one batch.

        Returns whether to stop, and how many appends the last commit answered.
        """
        batch: list[_Append] = []
        rows = 0
        answered = 0
        pending = list(items)
        while True:
            item = pending.pop(0) if pending else self._next_queued()
            if item is None or item is _STOP:
                break
            if isinstance(item, _Job):
                answered = self._flush(batch) or answered  # a job sees earlier appends
                self._do(item)
            elif isinstance(item, _Append):
                batch.append(item)
                rows += item.pending.size
                if rows >= _MAX_BATCH_ROWS:
                    break
        answered = self._flush(batch) or answered
        return item is _STOP, answered

    def _next_queued(self) -> object | None:
        try:
            return self._queue.get_nowait()
        except Empty:
            return None

    def _flush(self, batch: list[_Append]) -> int:
        count = len(batch)
        if batch:
            self._commit(batch)
            batch.clear()
        return count

    def _do(self, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            result = job.function(self._connection)
        except sqlite3.Error as error:  # a read in memory, a close: no sqlite3 error leaves
            translated = translate(error, "running a job", path=self._path)
            translated.__cause__ = error  # chained, as ``raise ... from`` would
            job.future.set_exception(translated)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    def _commit(self, batch: list[_Append]) -> None:
        try:
            outcomes = self._transaction(batch)
        except Exception as error:  # noqa: BLE001 - the writer must outlive any batch
            logger.opt(exception=error).error("sagalog writer: batch failed")
            outcomes = [error] * len(batch)
        self._deliver(batch, outcomes)

    def _transaction(self, batch: list[_Append]) -> list[Outcome | BaseException]:
        connection = self._connection
        if connection is None:
            return [StoreClosedError("the event store is closed")] * len(batch)
        try:
            return self._write(connection, batch, isolated=False)
        except _RetryIsolated:
            try:
                return self._write(connection, batch, isolated=True)
            except sqlite3.Error as error:
                return [translate(error, "appending", path=self._path)] * len(batch)
        except sqlite3.Error as error:
            return [translate(error, "appending", path=self._path)] * len(batch)

    def _write(
        self, connection: sqlite3.Connection, batch: list[_Append], *, isolated: bool
    ) -> list[Outcome | BaseException]:
        if not connection.in_transaction:  # _gather may have begun it already
            _begin(connection)
        try:
            if self._version < SCHEMA_VERSION:
                self._version = _upgrade(connection)
            pendings = [item.pending for item in batch]
            state = _load_state(connection, pendings, look_up_ids=isolated)
            recorded_at = self._now()
            rows: list[Row] = []
            messages: list[Message] = []
            if isolated:
                outcomes = _write_isolated(connection, batch, state, recorded_at, self._path,
                                           rows, messages)
            else:
                outcomes = _write_together(connection, batch, state, recorded_at, rows,
                                           messages)
            self.runs.summarise(connection, rows, messages)
            connection.execute("COMMIT")
            self._committed = (rows, messages)
        except BaseException:
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            raise
        return outcomes

    def _deliver(self, batch: list[_Append], outcomes: list[Outcome | BaseException]) -> None:
        outcomes = _each_its_own(outcomes)
        successes = 0
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any]]] = defaultdict(list)
        for item, outcome in zip(batch, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                successes += 1
            if item.future is not None:
                if isinstance(outcome, BaseException):
                    item.future.set_exception(outcome)
                else:
                    item.future.set_result(outcome)
            elif item.loop is not None:
                by_loop[item.loop].append((item.waiter, outcome))
        if successes:
            rows, messages = self._committed
            self.stats.records += len(rows)
            self._signal.publish(rows, messages)
            self.stats.transactions += 1
            self.stats.appends += successes
            self.stats.largest_batch = max(self.stats.largest_batch, successes)
        signal = self.on_commit if successes else None
        if signal is not None and self.loop is not None and self.loop not in by_loop:
            by_loop[self.loop] = []
        for loop, settled in by_loop.items():
            wake = signal if loop is self.loop else None
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, settled, wake)


def _each_its_own(outcomes: list[Outcome | BaseException]) -> list[Outcome | BaseException]:
    """``outcomes`` where an exception failed several appends, each with its own copy.

    A batch that fails as a whole (a full disk at COMMIT) has one exception for all its
    callers; raised on each caller's thread, the one object gathered every thread's
    traceback into it, mixed. Each caller gets a copy of the same type and message,
    chained (``__cause__``) to the original, which keeps the writer's traceback.
    """
    shared = Counter(id(outcome) for outcome in outcomes if isinstance(outcome, BaseException))
    if all(count == 1 for count in shared.values()):
        return outcomes
    return [_copy(outcome) if isinstance(outcome, BaseException) and shared[id(outcome)] > 1
            else outcome for outcome in outcomes]


def _copy(error: BaseException) -> BaseException:
    """A new exception like ``error`` (type, args, attributes such as ``path``), caused by it."""
    kind = type(error)
    copy = kind.__new__(kind)
    copy.args = error.args
    copy.__dict__.update(vars(error))
    copy.__cause__ = error
    return copy


def _settle(settled: list[tuple[Any, Any]], wake: Callable[[], None] | None) -> None:
    """On a caller's loop: answer its appends of one batch, and wake its subscriptions."""
    for waiter, outcome in settled:
        if waiter.done():
            continue  # the caller was cancelled; its append was committed all the same
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)
    if wake is not None:
        wake()


def _begin(connection: sqlite3.Connection) -> None:
    # busy_timeout makes SQLite wait for another process's write lock; this loop covers
    # the rare case where even that wait runs out under heavy contention.
    for attempt in range(_BUSY_RETRIES):
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            text = str(error)
            if ("locked" not in text and "busy" not in text) or attempt == _BUSY_RETRIES - 1:
                raise
            time.sleep(min(0.01 * 2**attempt, 1.0))
        else:
            return


def _check_head(connection: sqlite3.Connection, expected: int | None) -> None:
    """Raise :class:`WrongExpectedPositionError` unless the log ends at ``expected``.

    None expects nothing: any end will do.
    """
    if expected is None:
        return
    actual = int(connection.execute("SELECT max(position) FROM events").fetchone()[0] or 0)
    if actual != expected:
        raise WrongExpectedPositionError(expected, actual)


def _write_stream(
    connection: sqlite3.Connection, pendings: Iterable[Pending], recorded_at: str,
    runs: RunKeeper,
) -> tuple[int, set[str]]:
    """Resolve and insert each pending in turn, inside the open transaction.

    Returns how many records were written and their types. Each pending is resolved
    against the log as this transaction sees it (the ones before it included), and
    dropped once inserted: memory holds one pending at a time.
    """
    written = 0
    types: set[str] = set()
    for pending in pendings:
        state = _load_state(connection, [pending], look_up_ids=True)
        messages: list[Message] = []
        _, rows = resolve(pending, state, recorded_at, messages)
        if rows:
            _insert(connection, rows)
            runs.summarise(connection, rows, messages)
            written += len(rows)
            types.update(row[4] for row in rows)
        if pending.checkpoint is not None:
            _upsert_checkpoints(connection, [(*pending.checkpoint, recorded_at)])
    return written, types


def _load_state(
    connection: sqlite3.Connection, batch: list[Pending], *, look_up_ids: bool
) -> BatchState:
    """Read the log's head and the batch's stream versions (and, if asked, its known ids).

    Everything comes back as ONE row: Python's sqlite3 releases and re-takes the GIL
    around every row it steps through, and with actor threads busy each re-take can wait
    a while (a 16-row answer cost 1 ms under the runtime benchmark). Each version is a
    correlated max() so SQLite seeks the last index entry of its stream; "max() ...
    GROUP BY stream_id" walked every entry (25 ms for 64 streams of 3,000 records).
    """
    streams = list({write.stream_id for pending in batch for write in pending.writes})
    position, previous = 0, GENESIS
    versions: dict[str, int] = {}
    for start in range(0, max(len(streams), 1), _CHUNK):
        chunk = streams[start : start + _CHUNK]
        row = connection.execute(_state_query(len(chunk)), chunk).fetchone()
        if row[0] is not None:
            position, previous = row[0], row[1]
        if row[2] is not None:
            versions.update(json.loads(row[2]))
    state = BatchState(versions, position, previous)
    if not look_up_ids:
        return state
    explicit = [
        event_id
        for pending in batch
        for write in pending.writes
        if write.explicit_ids
        for event_id in write.event_ids
    ]
    for start in range(0, len(explicit), _CHUNK):
        id_chunk = explicit[start : start + _CHUNK]
        marks = ",".join("?" * len(id_chunk))
        rows = connection.execute(
            f"SELECT {COLUMNS}, hash FROM events WHERE event_id IN ({marks})",  # noqa: S608
            id_chunk,
        )
        state.recorded.update((row[3], row) for row in rows)
    return state


@functools.lru_cache(maxsize=64)
def _state_query(streams: int) -> str:
    head = "(SELECT {} FROM events ORDER BY position DESC LIMIT 1)"
    if not streams:
        return f"SELECT {head.format('position')}, {head.format('hash')}, NULL"
    values = ",".join(["(?)"] * streams)
    return (
        f"WITH s(id) AS (VALUES {values}) "  # noqa: S608 - placeholders only
        f"SELECT {head.format('position')}, {head.format('hash')}, "
        "(SELECT json_group_object(id, v) FROM "
        "(SELECT id, (SELECT max(stream_version) FROM events WHERE stream_id = s.id) AS v "
        "FROM s) WHERE v IS NOT NULL)"
    )


def _upgrade(connection: sqlite3.Connection) -> int:
    """Bring the file to the current schema inside the open write transaction.

    Reads the version again under the write lock: another process may have upgraded
    the file since this one opened it.
    """
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version < SCHEMA_VERSION:
        for statement in upgrade_statements(version):
            connection.execute(statement)
        logger.bind(schema=SCHEMA_VERSION).info(
            "sagalog store: upgraded the file from schema version {}", version)
    return SCHEMA_VERSION


def _insert(connection: sqlite3.Connection, rows: list[Row]) -> None:
    """Insert ``rows`` with multi-row INSERTs: one GIL hand-off per statement, not per row."""
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        connection.execute(_insert_sql(len(chunk)), [value for row in chunk for value in row])


@functools.lru_cache(maxsize=128)
def _insert_sql(count: int) -> str:
    return f"INSERT INTO events ({COLUMNS}, hash) VALUES " + ",".join([_ROW_MARKS] * count)  # noqa: S608


def _upsert_checkpoints(connection: sqlite3.Connection, rows: list[tuple[str, int, str]]) -> None:
    latest: dict[str, tuple[str, int, str]] = {}
    for row in rows:  # one row per name: a multi-row upsert may not touch a name twice
        if row[0] not in latest or row[1] > latest[row[0]][1]:
            latest[row[0]] = row
    values = ",".join(["(?, ?, ?)"] * len(latest))
    connection.execute(
        f"INSERT INTO checkpoints (name, position, updated_at) VALUES {values} "  # noqa: S608 - placeholders only
        "ON CONFLICT (name) DO UPDATE SET position = max(position, excluded.position), "
        "updated_at = excluded.updated_at",
        [value for row in latest.values() for value in row],
    )


def _write_together(
    connection: sqlite3.Connection,
    batch: list[_Append],
    state: BatchState,
    recorded_at: str,
    rows: list[Row],
    messages: list[Message],
) -> list[Outcome | BaseException]:
    outcomes: list[Outcome | BaseException] = []
    checkpoints: list[tuple[str, int, str]] = []
    for item in batch:
        try:
            result, new_rows = resolve(item.pending, state, recorded_at, messages)
        except StoreError as error:
            if any(write.explicit_ids for write in item.pending.writes):
                # Maybe a repeat of a recorded append, which this path does not look up.
                raise _RetryIsolated from error
            outcomes.append(error)
            continue
        outcomes.append(result)
        rows.extend(new_rows)
        if item.pending.checkpoint is not None:
            checkpoints.append((*item.pending.checkpoint, recorded_at))
    try:
        if rows:
            _insert(connection, rows)
        if checkpoints:
            _upsert_checkpoints(connection, checkpoints)
    except sqlite3.Error as error:
        # Most often an explicit event id already stored (an idempotent repeat, which
        # this fast path does not look up); the isolated path looks ids up and keeps
        # any other failure to the append that caused it.
        raise _RetryIsolated from error
    return outcomes


def _write_isolated(
    connection: sqlite3.Connection,
    batch: list[_Append],
    state: BatchState,
    recorded_at: str,
    path: str,
    written: list[Row],
    written_messages: list[Message],
) -> list[Outcome | BaseException]:
    outcomes: list[Outcome | BaseException] = []
    for item in batch:
        snapshot = state.copy()
        messages: list[Message] = []
        try:
            result, rows = resolve(item.pending, state, recorded_at, messages)
        except StoreError as error:
            outcomes.append(error)
            continue
        connection.execute("SAVEPOINT sagalog_append")
        try:
            if rows:
                _insert(connection, rows)
            if item.pending.checkpoint is not None:
                _upsert_checkpoints(connection, [(*item.pending.checkpoint, recorded_at)])
        except sqlite3.Error as error:
            connection.execute("ROLLBACK TO sagalog_append")
            state.versions, state.position = snapshot.versions, snapshot.position
            state.previous_hash, state.recorded = snapshot.previous_hash, snapshot.recorded
            outcomes.append(translate(error, "appending", path=path))
        else:
            outcomes.append(result)
            written.extend(rows)
            written_messages.extend(messages)
        connection.execute("RELEASE sagalog_append")
    return outcomes


class _RetryIsolated(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The combined insert failed; redo the batch one append per savepoint."""
