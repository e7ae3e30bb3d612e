"""``MemoryEventStore``: the whole store contract over a log held in this process's memory.

The role eventsourcing's plain-Python "popo" recorder plays: tests, examples and
short-lived tools get a log with SQLite's semantics and no file. What is shared with the
SQLite backend is shared code, not a copy: ``prepare`` checks and encodes each append in
the caller, ``resolve`` decides expected versions, idempotent event ids, the hash chain
and the rows, ``decode_rows`` turns rows into envelopes, ``SyncSubscription`` and
``CommitSignal`` deliver to subscribers. So positions, errors, hashes and exports are the
same on both, and ``tests/store/contract/`` checks that they are.

Appends are serialised under the log's lock (one transaction at a time, each all or
nothing), which also keeps one caller's conflict from failing anybody else's append.
``durability`` is accepted and ignored: nothing here survives the process.
"""

from __future__ import annotations

import contextlib
import os
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self
from uuid import UUID

from sagalog.events import registry as default_registry
from sagalog.store._append import AppendRequest, Checkpoint, prepare
from sagalog.store._blocking import SyncSubscription
from sagalog.store._checks import (
    check_checkpoint,
    check_expected_position,
    check_limit,
    check_metadata,
    check_number,
    check_query,
)
from sagalog.store._contract import RawRecord, RunFacts, RunPage, RunQuery, RunStatusHook
from sagalog.store._decode import decode_rows
from sagalog.store._errors import (
    ReadOnlyStoreError,
    StoreClosedError,
    StoreError,
    WorkerBusyError,
    WrongExpectedPositionError,
)
from sagalog.store._expected import ANY, ExpectedVersion
from sagalog.store._ids import check_id
from sagalog.store._resolve import Pending
from sagalog.store._signal import CommitSignal
from sagalog.store._types import type_names
from sagalog.store._verify import VerifyReport, verify_rows
from sagalog.store.memory import _names
from sagalog.store.memory._log import WorkerHold
from sagalog.store.memory._status import past_statuses, record_statuses
from sagalog.store.memory._transaction import Transaction

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message, Registry
    from sagalog.store._contract import Types
    from sagalog.store._resolve import Row
    from sagalog.store.memory._log import MemoryLog

__all__ = ["MemoryEventStore"]

_PAGE = 1000
"""Records per page of a reading iterator: one lock hold and one decode call each."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MemoryEventStore:
    """An event store whose log lives in this process's memory; safe from any thread.

    Example::

        with MemoryEventStore.open("shop") as store:          # open_store("memory:shop")
            store.append("order-1", [OrderPlaced(order_id="1")])
            for record in store.read_all():
                print(record.position, record.type)

    ``open(None)`` (``memory:``) is a fresh log no other store sees; ``open(NAME)``
    (``memory:NAME``) is one log for every store of this process that opens NAME while
    any of them has it open. It is forgotten when the last one closes.
    """

    def __init__(
        self,
        log: MemoryLog,
        *,
        read_only: bool,
        registry: Registry,
        clock: Callable[[], datetime],
        poll_interval: float,
    ) -> None:
        """Use :meth:`open`; this wraps a log already counted as used."""
        self._log = log
        self._read_only = read_only
        self._registry = registry
        self._clock = clock
        self._poll_interval = poll_interval
        self._signal = CommitSignal()
        self._hooks: tuple[RunStatusHook, ...] = ()
        self._holds: list[WorkerHold] = []
        self._closed = False

    # -- opening and closing -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        name: str | None = None,
        *,
        read_only: bool = False,
        registry: Registry | None = None,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float = 0.05,
        run_status: Iterable[RunStatusHook] = (),
    ) -> MemoryEventStore:
        """Open the in-memory log ``name`` (None or "": a private one); close it when done.

        Args:
            name: the log's name in this process; None or "" for a log of its own.
            read_only: open a named log some store of this process has open, so that
                nothing can be written through this store.
            registry: the message registry to decode with (default: the process-wide one).
            clock: where ``recorded_at`` comes from (default: the system clock, UTC).
            poll_interval: longest wait of a caught-up subscription between looks (s).
            run_status: hooks that give runs their status (see :class:`RunStatusHook`).

        Raises:
            InvalidStreamIdError: ``name`` holds control characters or is too long.
            NotADatabaseError: ``read_only`` and no store of this process has ``name`` open.
            StoreError: ``read_only`` without a name (the log would always be empty), or
                a bad option.

        """
        name = check_id(name, "in-memory log name") if name else None
        if read_only and name is None:
            msg = ("a read-only store needs a named in-memory log (memory:NAME) that another "
                   "store has open; memory: alone would always be empty")
            raise StoreError(msg)
        if not (isinstance(poll_interval, int | float) and poll_interval > 0):
            msg = f"poll_interval must be a positive number of seconds, not {poll_interval!r}"
            raise StoreError(msg)
        log = _names.acquire(name, create=not read_only)
        store = cls(log, read_only=read_only, registry=registry or default_registry,
                    clock=clock or _utc_now, poll_interval=poll_interval)
        try:
            with log.locked():
                log.signals.add(store._signal)
            for hook in run_status:
                store._install(hook, fill=not read_only)
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        """Release the log (the last store of a name forgets it); idempotent.

        Subscriptions end (a blocked ``next_batch`` returns []), ``wait_for_commit``
        returns False, and a worker lock held through this store is released.
        """
        if self._closed:
            return
        self._closed = True
        log = self._log
        with log.locked():
            log.signals.discard(self._signal)
            if log.worker in self._holds:
                log.worker = None
        self._signal.close()
        log.wake()
        _names.release(log)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def target(self) -> str:
        """``memory:NAME``, or ``memory:`` for a private log."""
        return "memory:" if self._log.name is None else f"memory:{self._log.name}"

    @property
    def read_only(self) -> bool:
        """Whether nothing can be written through this store."""
        return self._read_only

    @property
    def registry(self) -> Registry:
        """The message registry records are decoded with."""
        return self._registry

    # -- writing -------------------------------------------------------------------------

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
        """Append ``messages`` to one stream, atomically; return their records.

        Raises:
            WrongExpectedVersionError: the stream is not at ``expected_version``.
            EventIdConflictError: an event id is recorded with other content.
            InvalidStreamIdError: a stream or correlation id is empty, too long or holds
                refused characters.
            UnportableValueError: a message holds NaN, Infinity, NUL or a lone surrogate.
            ReadOnlyStoreError: the store was opened read-only.
            StoreError: other bad input, or the store is closed.

        """
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

        If any request fails its checks, nothing of any of them is written. With
        ``want_records=False`` new records are not built (their lists are empty).
        """
        self._check_writable()
        pending = self._pending(requests, checkpoint)
        pending.want_records = want_records
        with self._log.locked():
            self._check_open()
            transaction = self._begin()
            results = transaction.add(pending)
            self._commit(transaction)
        return results

    def append_stream(
        self,
        batches: Iterable[Sequence[AppendRequest]],
        *,
        checkpoints: dict[str, int] | None = None,
        expected_position: int | None = None,
    ) -> int:
        """Append every batch in ONE transaction (an import); all or nothing.

        Each batch is checked and resolved as it is read, on the caller's thread, with
        the log's lock held (as SQLite holds its write lock through an import): a
        conflict stops the reading at once. Then all are committed together, with
        ``checkpoints`` moved (never backwards). Anything ``batches`` raises, or any
        append that fails its checks, writes nothing. Returns how many records were new.
        With ``expected_position``, the log must end there once its lock is held, or
        nothing is written (:class:`WrongExpectedPositionError`).
        """
        self._check_writable()
        if checkpoints is not None and not isinstance(checkpoints, Mapping):
            msg = f"checkpoints must map names to positions, not {type(checkpoints).__name__}"
            raise StoreError(msg)
        moves = [check_checkpoint(item) for item in (checkpoints or {}).items()]
        expected = check_expected_position(expected_position)
        with self._log.locked():
            self._check_open()
            if expected is not None and self._log.head != expected:
                raise WrongExpectedPositionError(expected, self._log.head)
            transaction = self._begin()
            for batch in batches:
                pending = self._pending(batch, None)
                pending.want_records = False  # nobody reads them: build no envelopes
                transaction.add(pending)
            for name, position in moves:
                transaction.move(name, position)
            self._commit(transaction)
        return len(transaction.rows)

    def set_checkpoint(self, name: str, position: int) -> None:
        """Move subscriber ``name`` to ``position`` (never backwards)."""
        self.append_all([], checkpoint=Checkpoint(name, position))

    def set_metadata(self, key: str, value: str) -> None:
        """Record one of the log's own notes (see :meth:`metadata`)."""
        self._check_writable()
        key, value = check_metadata(key, value)
        with self._log.locked():
            self._check_open()
            self._log.metadata[key] = value

    def add_run_status(self, hook: RunStatusHook) -> None:
        """Install ``hook`` (once per name); runs written before get their status now.

        Raises:
            StoreError: ``hook`` is not a :class:`RunStatusHook`, or it raised on a
                stored record (it is then not installed).

        """
        self._check_writable()
        self._install(hook, fill=True)

    @contextlib.contextmanager
    def worker_lock(self, owner: str) -> Iterator[None]:
        """Hold the log's worker lock for the ``with`` block (one handler-running runtime).

        Raises:
            WorkerBusyError: another holder has it; the message names it (owner, pid).

        """
        self._check_writable()
        owner = check_id(owner, "worker lock owner")
        hold = WorkerHold(f"{owner} (pid {os.getpid()})")
        log = self._log
        with log.locked():
            self._check_open()
            if log.worker is not None:
                msg = (f"{self.target}: another worker holds this log's worker lock: "
                       f"{log.worker.holder}; "
                       "stop it first")
                # A memory log lives in one process: its holder is this one.
                raise WorkerBusyError(msg, pid=os.getpid())
            log.worker = hold
            self._holds.append(hold)
        try:
            yield
        finally:
            with log.locked():
                if log.worker is hold:
                    log.worker = None
                self._holds.remove(hold)

    # -- reading -------------------------------------------------------------------------

    def last_position(self) -> int:
        """The position of the last record, 0 if the log is empty."""
        with self._reading():
            return self._log.head

    def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last record, 0 if it has none."""
        check_id(stream_id)
        with self._reading():
            return self._log.version(stream_id)

    def read_all(self, from_position: int = 1, *, types: Types = None
                 ) -> Iterator[Envelope[Message]]:
        """The log from ``from_position`` on, in position order, a page at a time."""
        names = type_names(types)
        check_number(from_position, "from_position")
        self._check_open()
        return self._all_pages(from_position, names)

    def _all_pages(self, position: int, names: list[str] | None
                   ) -> Iterator[Envelope[Message]]:
        while True:
            page = self._page(position, _PAGE, names)
            yield from page
            if len(page) < _PAGE:
                return
            position = page[-1].position + 1

    def read_page(self, from_position: int, limit: int, *, types: Types = None
                  ) -> list[Envelope[Message]]:
        """Up to ``limit`` records from ``from_position`` on: one page, for bulk readers."""
        check_number(from_position, "from_position")
        return self._page(from_position, check_limit(limit), type_names(types))

    def _page(self, position: int, limit: int, names: list[str] | None
              ) -> list[Envelope[Message]]:
        with self._reading():
            log = self._log
            rows = [log.rows[p - 1] for p in log.positions_from(position, names, limit)]
        return self._decode(rows)

    def read_raw(self, from_position: int, limit: int) -> list[RawRecord]:
        """Up to ``limit`` records from ``from_position`` on, as stored (undecoded)."""
        start = max(check_number(from_position, "from_position"), 1) - 1
        limit = check_limit(limit)
        with self._reading():
            rows = self._log.rows[start : start + limit]
        return [RawRecord(*row) for row in rows]

    def read_stream(self, stream_id: str, from_version: int = 1
                    ) -> Iterator[Envelope[Message]]:
        """One stream's records from ``from_version`` on, in order."""
        check_id(stream_id)
        check_number(from_version, "from_version")
        self._check_open()
        return self._stream_pages(stream_id, max(from_version, 1))

    def _stream_pages(self, stream_id: str, version: int) -> Iterator[Envelope[Message]]:
        while True:
            with self._reading():
                log = self._log
                positions = log.streams.get(stream_id, [])[version - 1 : version - 1 + _PAGE]
                rows = [log.rows[p - 1] for p in positions]
            yield from self._decode(rows)
            if len(rows) < _PAGE:
                return
            version += _PAGE

    def read_correlation(self, correlation_id: str, from_position: int = 1
                         ) -> Iterator[Envelope[Message]]:
        """One run's records (all its streams) from ``from_position`` on, in order."""
        check_id(correlation_id, "correlation id")
        check_number(from_position, "from_position")
        self._check_open()
        return self._correlation_pages(correlation_id, from_position)

    def _correlation_pages(self, correlation_id: str, position: int
                           ) -> Iterator[Envelope[Message]]:
        while True:
            with self._reading():
                log = self._log
                positions = log.correlations.get(correlation_id, [])
                at = bisect_left(positions, position)
                rows = [log.rows[p - 1] for p in positions[at : at + _PAGE]]
            yield from self._decode(rows)
            if len(rows) < _PAGE:
                return
            position = rows[-1][0] + 1

    def read_position(self, position: int) -> Envelope[Message] | None:
        """The record at ``position``, or None."""
        check_number(position, "position")
        with self._reading():
            log = self._log
            if not 1 <= position <= log.head:
                return None
            row = log.rows[position - 1]
        return self._decode([row])[0]

    def read_event(self, event_id: UUID) -> Envelope[Message] | None:
        """The record with ``event_id``, or None."""
        if not isinstance(event_id, UUID):
            msg = f"event_id must be a UUID, not {type(event_id).__name__}"
            raise StoreError(msg)
        with self._reading():
            row = self._log.row_of(event_id.bytes)
        return None if row is None else self._decode([row])[0]

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before ``moment`` (0 if none was).

        Times are compared as stored (ISO 8601 in UTC); a naive ``moment`` is local time.
        """
        if not isinstance(moment, datetime):
            msg = f"position_at takes a datetime, not {type(moment).__name__}"
            raise StoreError(msg)
        stamp = moment.astimezone(UTC).isoformat(timespec="microseconds")
        with self._reading():
            return self._log.position_at(stamp)

    def checkpoint(self, name: str) -> int:
        """Subscriber ``name``'s position, 0 if it has none."""
        with self._reading():
            return self._log.checkpoints.get(name, 0)

    def checkpoints(self) -> dict[str, int]:
        """Every subscriber's position, by name."""
        with self._reading():
            return dict(sorted(self._log.checkpoints.items()))

    def runs(self, query: RunQuery) -> RunPage:
        """The runs that answer ``query``, newest first, and how many do."""
        query = check_query(query)
        with self._reading():
            return self._log.runs.query(query)

    def run(self, correlation_id: str) -> RunFacts | None:
        """One run's facts, or None if no record carries ``correlation_id``."""
        check_id(correlation_id, "correlation id")
        with self._reading():
            return self._log.runs.get(correlation_id)

    def metadata(self) -> dict[str, str]:
        """The log's own notes: text keys to text values."""
        with self._reading():
            return dict(sorted(self._log.metadata.items()))

    def subscribe(self, from_position: int = 1, *, types: Types = None) -> SyncSubscription:
        """The records from ``from_position`` on: the past, then live appends of this process.

        Appends through any store of this log are pushed to it (see ``CommitSignal``).
        """
        names = type_names(types)
        check_number(from_position, "from_position")
        self._check_open()
        return SyncSubscription(self._scan, lambda: None, self._signal, from_position, names,
                                self._poll_interval)

    def _scan(self, position: int, limit: int, names: list[str] | None
              ) -> tuple[list[Envelope[Message]], int]:
        """A subscription's next page, and where to scan next (past every record looked at)."""
        if self._closed:
            return [], position  # a subscriber racing the close sees no more records
        with self._log.locked():
            log = self._log
            head = log.head
            rows = [log.rows[p - 1] for p in log.positions_from(position, names, limit)]
        page = self._decode(rows)
        if page and (names is None or len(page) == limit):
            return page, page[-1].position + 1
        if names is None:
            return page, position  # nothing new yet
        return page, max(position, head + 1)  # every record up to the head was looked at

    def wait_for_commit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a commit to this log; False if none came or it closed."""
        self._check_open()
        return self._log.wait_for_commit(timeout, lambda: self._closed)

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check the hash chain and the positions (there is no file to check: ``ok``)."""
        self._check_open()

        def pages() -> Iterator[list[Row]]:
            start = 0
            while True:
                with self._reading():
                    rows = self._log.rows[start : start + _PAGE * 5]
                if not rows:
                    return
                yield rows
                start += len(rows)

        return verify_rows(pages(), "ok", progress)

    # -- internals -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            msg = f"{self.target}: the event store is closed"
            raise StoreClosedError(msg)

    def _check_writable(self) -> None:
        self._check_open()
        if self._read_only:
            msg = f"{self.target}: the store was opened read-only; nothing was written"
            raise ReadOnlyStoreError(msg)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        self._check_open()
        with self._log.locked():
            yield

    def _decode(self, rows: list[Row]) -> list[Envelope[Message]]:
        return decode_rows([row[:10] for row in rows], self._registry)

    def _pending(self, requests: Sequence[AppendRequest], checkpoint: Checkpoint | None
                 ) -> Pending:
        writes = []
        for request in requests:
            if not isinstance(request, AppendRequest):
                msg = f"appends are AppendRequests, not {type(request).__name__}"
                raise StoreError(msg)
            writes.append(prepare(request))
        if checkpoint is not None:
            checkpoint = check_checkpoint(checkpoint)
        return Pending(writes, checkpoint, sum(len(write.messages) for write in writes))

    def _begin(self) -> Transaction:
        recorded_at = self._clock().astimezone(UTC).isoformat(timespec="microseconds")
        return Transaction(self._log, recorded_at)

    def _commit(self, transaction: Transaction) -> None:
        """Ask the hooks for the new records' statuses, then apply; a hook error applies none."""
        statuses = record_statuses(transaction.rows, transaction.messages, self._hooks)
        self._log.apply(transaction.rows, transaction.messages, statuses,
                        transaction.checkpoints)

    def _install(self, hook: RunStatusHook, *, fill: bool) -> None:
        if not isinstance(hook, RunStatusHook):
            msg = f"run status hooks are RunStatusHooks, not {type(hook).__name__}"
            raise StoreError(msg)
        with self._log.locked():
            self._check_open()
            if any(installed.name == hook.name for installed in self._hooks):
                return
            hooks = (*self._hooks, hook)
            if fill:
                for correlation_id, position, status in past_statuses(
                        self._log, hooks, hook, self._registry):
                    self._log.runs.fill(correlation_id, position, status)
            self._hooks = hooks
