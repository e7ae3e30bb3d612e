"""The injectable clock: what time it is, and calling back later.

Everything in sagalog that waits (handler retry backoff, durable timers, step
timeouts) asks the clock to call it back instead of sleeping, so nothing blocks an
actor's thread and a test can drive time by hand with :class:`VirtualClock`.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ClockProtocol", "SystemClock", "TimerHandle", "VirtualClock"]


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled."""

    def cancel(self) -> None:
        """Stop the callback from running, if it has not run yet."""


class ClockProtocol(Protocol):
    """What sagalog needs of a clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` (on some thread) once ``delay`` seconds have passed."""


Clock = ClockProtocol
"""Alias: the clock type users annotate with."""


class SystemClock:
    """The real clock: wall time, and ``threading.Timer`` callbacks."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` on a daemon timer thread after ``delay`` seconds."""
        timer = threading.Timer(max(delay, 0.0), callback)
        timer.daemon = True
        timer.start()
        return timer


class _VirtualTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock that moves only when told to, for tests that must not sleep.

    Example::

        clock = VirtualClock()
        with Runtime(path, clock=clock) as runtime:
            ...                      # a handler fails; its retry waits 30 s
            clock.advance(30)        # the retry runs now, on this thread
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._timers: list[tuple[datetime, int, _VirtualTimer]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def now(self) -> datetime:
        """The virtual time."""
        with self._lock:
            return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` when :meth:`advance` moves the clock ``delay`` seconds on."""
        timer = _VirtualTimer(callback)
        with self._lock:
            due = self._now + timedelta(seconds=max(delay, 0.0))
            heapq.heappush(self._timers, (due, next(self._order), timer))
            self._changed.notify_all()
        return timer

    def pending(self) -> int:
        """How many callbacks are waiting for time to pass."""
        with self._lock:
            return sum(1 for _, _, timer in self._timers if not timer.cancelled)

    def wait_for_pending(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block (in real time) until at least ``count`` callbacks wait; False on timeout."""
        with self._lock:
            return self._changed.wait_for(
                lambda: sum(1 for _, _, t in self._timers if not t.cancelled) >= count, timeout
            )

    def advance(self, seconds: float) -> int:
        """Move time on by ``seconds``, running every callback that falls due, in order.

        Callbacks run on the calling thread, each with the clock set to its due time.
        Returns how many ran.
        """
        with self._lock:
            target = self._now + timedelta(seconds=seconds)
        ran = 0
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > target:
                    self._now = target
                    return ran
                due, _, timer = heapq.heappop(self._timers)
                self._now = max(self._now, due)
            if not timer.cancelled:
                timer.callback()
                ran += 1
