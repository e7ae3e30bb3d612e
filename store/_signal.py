"""After a commit: wake the subscriber threads that follow its types, push them its records.

The writer thread calls :meth:`CommitSignal.publish` with the rows it just committed
and their messages. A thread-side subscription registers a :class:`Waiter` with the
types it follows. Two things make the actor runtime fast here:

- only matching waiters are woken: waking every subscriber on every commit made each
  take the GIL and query the log for nothing, doubling the writer's time per commit;
- a waiter whose next position is exactly the first position committed (it has seen
  everything before) gets the records pushed into its inbox, already decoded, so the
  subscriber neither queries nor decodes. Anything else (a subscriber behind, appends
  by another process in between, a full inbox) falls back to the subscriber scanning
  the log itself, which is always correct; pushes only save it work.

No gap, no duplicate: pushes to a waiter are contiguous from its position, and a
subscriber drops pushed records below the position its own scans already reached.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sagalog.events import Envelope, Message, uuid_from_bytes

if TYPE_CHECKING:
    from sagalog.store._resolve import Row

__all__ = ["MAX_INBOX", "CommitSignal", "Waiter"]

MAX_INBOX = 2000
"""Most records pushed to one waiter and not yet taken; past it, the subscriber scans."""

_new_tuple: Any = tuple.__new__


class Waiter:
    """One subscription's wake-up flag and inbox of pushed records."""

    def __init__(self, types: frozenset[str] | None) -> None:
        self.types = types
        """The types followed; None follows every type."""
        self.lock = threading.Lock()
        self.position = 0
        """Pushes are accepted only of records starting exactly here (0: none)."""
        self.inbox: deque[Envelope[Message]] = deque()
        self._event = threading.Event()

    def arm(self) -> None:
        """Forget earlier wake-ups: call before looking at the inbox and the log."""
        self._event.clear()

    def wake(self) -> None:
        """Mark that something for this subscription (or a close) happened."""
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a wake-up since :meth:`arm`."""
        return self._event.wait(timeout)

    def caught_up(self, position: int) -> None:
        """The subscriber has seen everything before ``position``: accept pushes from it."""
        with self.lock:
            if not self.inbox:
                self.position = position

    def take(self, after: int, limit: int) -> list[Envelope[Message]]:
        """Up to ``limit`` pushed records at or past position ``after``, oldest first."""
        with self.lock:
            while self.inbox and self.inbox[0].position < after:
                self.inbox.popleft()  # the subscriber's own scan got there first
            count = min(limit, len(self.inbox))
            return [self.inbox.popleft() for _ in range(count)]


class CommitSignal:
    """The store's registry of waiting subscriptions, told of each commit by the writer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[Waiter] = set()
        self._closed = False
        self._commits = 0
        self._committed = threading.Condition(self._lock)

    @property
    def closed(self) -> bool:
        """Whether the store has closed."""
        return self._closed

    def register(self, types: Iterable[str] | None) -> Waiter:
        """A new waiter for a subscription following ``types`` (None: all)."""
        waiter = Waiter(None if types is None else frozenset(types))
        with self._lock:
            self._waiters.add(waiter)
            if self._closed:
                waiter.wake()
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        """Forget ``waiter`` (its subscription closed)."""
        with self._lock:
            self._waiters.discard(waiter)

    def publish(self, rows: Sequence[Row], messages: Sequence[Message]) -> None:
        """Tell the waiters about one commit's ``rows`` (contiguous positions)."""
        if not rows:
            return
        first, after = rows[0][0], rows[-1][0] + 1
        types = {row[4] for row in rows}
        with self._lock:
            waiters = list(self._waiters)
            self._count_commit()
        envelopes: list[Envelope[Message]] | None = None
        for waiter in waiters:
            follows = waiter.types is None or not waiter.types.isdisjoint(types)
            with waiter.lock:
                if waiter.position != first:
                    pass  # behind, or not caught up: it will scan
                elif not follows:
                    waiter.position = after  # nothing here for it, and it has seen the rest
                else:
                    if envelopes is None:
                        envelopes = _envelopes(rows, messages)
                    wanted = [
                        e for e in envelopes if waiter.types is None or e.type in waiter.types
                    ]
                    if len(waiter.inbox) + len(wanted) <= MAX_INBOX:
                        waiter.inbox.extend(wanted)
                        waiter.position = after
            if follows:
                waiter.wake()

    def wake(self, types: Iterable[str]) -> None:
        """Wake the waiters following any of ``types`` to scan the log; push them nothing.

        For a commit whose records are not kept (a streamed import): a waiter's position
        is left as it was, so no later push can skip them, and its scan reads them.
        """
        written = set(types)
        with self._lock:
            waiters = list(self._waiters)
            self._count_commit()
        for waiter in waiters:
            if waiter.types is None or not waiter.types.isdisjoint(written):
                waiter.wake()

    def wait_for_commit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the next commit (or the close); False if none came."""
        with self._lock:
            seen = self._commits
            return self._committed.wait_for(
                lambda: self._commits != seen or self._closed, timeout)

    def _count_commit(self) -> None:
        """(Under the lock.) One more commit: wake the threads in :meth:`wait_for_commit`."""
        self._commits += 1
        self._committed.notify_all()

    def close(self) -> None:
        """Wake every waiter for good: the store is closed."""
        with self._lock:
            self._closed = True
            self._committed.notify_all()
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.wake()


def _envelopes(rows: Sequence[Row], messages: Sequence[Message]) -> list[Envelope[Message]]:
    timestamp = datetime.fromisoformat(rows[0][6])  # one commit, one recorded_at
    return [
        _new_tuple(
            Envelope,
            (row[0], row[1], row[2], uuid_from_bytes(row[3]), row[4], row[5], timestamp,
             row[7], None if row[8] is None else uuid_from_bytes(row[8]), message),
        )
        for row, message in zip(rows, messages, strict=True)
    ]
