"""One in-memory log: its records, the indexes reads use, and the one lock over both.

Every write and every read takes :attr:`MemoryLog.locked` for as long as it touches the
lists, never longer: readers copy the stored rows out and decode them after letting go,
and writers resolve and apply a whole transaction under it, so a reader sees either all
of an append or none of it. Nothing a caller supplies runs under the lock except the
run status hooks, which must not use the store (a hook that does gets a
:class:`StoreError`, not a deadlock).

Records are kept as SQLite stores them (:data:`~sagalog.store._resolve.Row`: the
envelope columns and the hash), not as message objects: each store decodes with its
own registry, upcasting old versions, exactly as the SQLite backend reads.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sagalog.store._chain import GENESIS
from sagalog.store._errors import StoreError
from sagalog.store.memory._runs import RunTable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from sagalog.events import Message
    from sagalog.store._resolve import Row
    from sagalog.store._signal import CommitSignal

__all__ = ["MemoryLog", "WorkerHold"]


class WorkerHold:
    """One holding of a log's worker lock, released only by whoever took it."""

    __slots__ = ("holder",)

    def __init__(self, holder: str) -> None:
        self.holder = holder
        """Who holds it, for the refusal's message: "owner (pid N)"."""


class MemoryLog:
    """The records of one log and their indexes; positions are list indexes plus one."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        """The name stores open it by (``memory:NAME``); None for a private log."""
        self.references = 0
        """How many open stores use it (kept by ``_names``)."""
        self.rows: list[Row] = []
        """Every record, ``rows[position - 1]``."""
        self.streams: dict[str, list[int]] = {}
        """Each stream's positions, ``[version - 1]``."""
        self.types: dict[str, list[int]] = {}
        """Each type's positions, ascending: a filtered read skips the other types."""
        self.correlations: dict[str, list[int]] = {}
        """Each correlation id's positions, ascending."""
        self.event_ids: dict[bytes, int] = {}
        """Each event id's position."""
        self.checkpoints: dict[str, int] = {}
        self.metadata: dict[str, str] = {}
        self.runs = RunTable()
        self.signals: set[CommitSignal] = set()
        """The commit signal of each open store: a commit wakes the subscribers of all."""
        self.worker: WorkerHold | None = None
        """The worker lock's holding, or None when free."""
        self._ordered_times = True  # recorded_at never went back: position_at may bisect
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._commits = 0
        self._committed = threading.Condition()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the log's lock; refuse a thread that holds it already (a hook using it)."""
        if self._owner == threading.get_ident():
            msg = ("a run status hook used the store while the store was writing; a hook "
                   "must only read the record it is given")
            raise StoreError(msg)
        with self._lock:
            self._owner = threading.get_ident()
            try:
                yield
            finally:
                self._owner = None

    # -- the head ------------------------------------------------------------------------

    @property
    def head(self) -> int:
        """The last position, 0 when empty."""
        return len(self.rows)

    @property
    def last_hash(self) -> bytes:
        """The last record's hash: the previous hash of the next record."""
        return self.rows[-1][10] if self.rows else GENESIS

    def version(self, stream_id: str) -> int:
        """The stream's version, 0 when it has no record."""
        positions = self.streams.get(stream_id)
        return len(positions) if positions else 0

    def row_of(self, event_id: bytes) -> Row | None:
        """The stored row of ``event_id``, or None."""
        position = self.event_ids.get(event_id)
        return None if position is None else self.rows[position - 1]

    # -- committing ----------------------------------------------------------------------

    def apply(
        self,
        rows: Sequence[Row],
        messages: Sequence[Message],
        statuses: Sequence[str | None],
        checkpoints: dict[str, int],
    ) -> None:
        """Make one transaction's ``rows`` and ``checkpoints`` part of the log, then tell.

        ``rows`` follow the head (the transaction was resolved under this lock);
        ``statuses`` are the runs' statuses in step with them. Every open store's
        subscribers are told, in commit order, and every ``wait_for_commit`` wakes.
        """
        for row in rows:
            position = row[0]
            if self.rows and row[6] < self.rows[-1][6]:
                self._ordered_times = False  # an injected clock went back
            self.rows.append(row)
            self.streams.setdefault(row[1], []).append(position)
            self.types.setdefault(row[4], []).append(position)
            self.event_ids[row[3]] = position
            if row[7] is not None:
                self.correlations.setdefault(row[7], []).append(position)
        self.runs.fold(rows, statuses)
        for name, position in checkpoints.items():
            self.checkpoints[name] = max(position, self.checkpoints.get(name, position))
        # Published under the lock, so commits reach subscribers in position order and
        # a caught-up subscriber is pushed each one (out of order, it would only scan).
        for signal in list(self.signals):
            signal.publish(rows, messages)
        with self._committed:
            self._commits += 1
            self._committed.notify_all()

    def wait_for_commit(self, timeout: float, closed: Callable[[], bool]) -> bool:
        """Wait up to ``timeout`` s for the next commit; False if none came (or ``closed``)."""
        with self._committed:
            seen = self._commits
            self._committed.wait_for(lambda: self._commits != seen or closed(), timeout)
            return self._commits != seen

    def wake(self) -> None:
        """Wake every ``wait_for_commit`` to look again (a store closed)."""
        with self._committed:
            self._committed.notify_all()

    # -- finding positions ---------------------------------------------------------------

    def positions_from(self, position: int, types: list[str] | None, limit: int) -> list[int]:
        """Up to ``limit`` positions from ``position`` on, of ``types`` (None: every type)."""
        start = max(position, 1)
        if types is None:
            return list(range(start, min(start + limit, self.head + 1)))
        found: list[int] = []
        for name in set(types):
            positions = self.types.get(name, [])
            at = bisect_left(positions, start)
            found.extend(positions[at : at + limit])
        found.sort()
        return found[:limit]

    def position_at(self, stamp: str) -> int:
        """The last position recorded at or before ``stamp`` (stored text order), or 0."""
        if self._ordered_times:
            return bisect_right(self.rows, stamp, key=lambda row: row[6])
        for row in reversed(self.rows):
            if row[6] <= stamp:
                return row[0]
        return 0
