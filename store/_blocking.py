"""Subscriptions, reading on the subscriber's own thread: the one way records reach one.

An actor follows the log from its own thread. Going through an event loop and aiosqlite
for each page cost four thread hops, over a millisecond each when every core is busy; a
reader of the subscription's own (a backend's :data:`Scan`), used on the subscriber's
thread, costs none. When caught up it takes what the writer pushed (see ``_signal``) or
waits on the commit signal (appends made in this process) or a poll interval (appends
made by other processes on the same log). A filtered scan is bounded by the head it read
first, so it moves past records it looked at even when none matched. asyncio code gets
the same subscription through :class:`sagalog.store.AsyncEventStore`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message
    from sagalog.store._signal import CommitSignal

__all__ = ["Scan", "SyncSubscription"]

Scan = Callable[[int, int, "list[str] | None"], "tuple[list[Envelope[Message]], int]"]
"""``scan(position, limit, types)``: the next page of records from ``position`` (of
``types``, or all), and the position to scan from next. With a type filter the next
position must move past every record looked at, matching or not (see ``_scan``)."""



class SyncSubscription:
    """A blocking subscription: catch-up then live, from a plain thread.

    Use :meth:`next_batch` (what the actors do) or iterate it.
    """

    def __init__(
        self,
        scan: Scan,
        close: Callable[[], None],
        signal: CommitSignal,
        from_position: int,
        types: list[str] | None,
        poll_interval: float,
    ) -> None:
        """Follow the log through ``scan`` (a backend's page read) and ``signal``.

        ``close`` releases what ``scan`` reads with (a connection of its own).
        """
        self._scan_page = scan
        self._close_reader = close
        self._signal = signal
        self._waiter = signal.register(types)
        self._next = max(from_position, 1)
        self._types = types
        self._poll = poll_interval
        self._closed = False

    @property
    def next_position(self) -> int:
        """The position the next record will have at least; everything before is seen."""
        return self._next

    @property
    def closed(self) -> bool:
        """Closed, or its store is: ``next_batch`` returns [] from now on."""
        return self._closed or self._signal.closed

    def close(self) -> None:
        """Stop the subscription; a blocked ``next_batch`` returns [] promptly."""
        if not self._closed:
            self._closed = True
            self._signal.unregister(self._waiter)
            self._waiter.wake()
            self._close_reader()

    def next_batch(self, limit: int = 500, timeout: float | None = None) -> list[Envelope[Message]]:
        """Up to ``limit`` next records, waiting up to ``timeout`` s; [] on timeout or close."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed and not self._signal.closed:
            self._waiter.arm()  # before the inbox and the scan, so no commit is missed
            pushed = self._waiter.take(self._next, limit)
            if pushed:
                self._next = pushed[-1].position + 1
                return pushed
            page = self._scan(limit)
            if page:
                return page
            self._waiter.caught_up(self._next)
            wait = self._poll
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                wait = min(wait, left)
            self._waiter.wait(wait)
        return []

    def __iter__(self) -> Iterator[Envelope[Message]]:
        while True:
            batch = self.next_batch(500, None)
            if not batch:
                return
            yield from batch

    def _scan(self, limit: int) -> list[Envelope[Message]]:
        if self._closed:
            return []
        page, self._next = self._scan_page(self._next, limit, self._types)
        return page
