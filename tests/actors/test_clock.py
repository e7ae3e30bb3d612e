"""The injectable clocks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sagalog.actors import SystemClock, VirtualClock


def test_virtual_clock_runs_callbacks_in_due_order_only_when_advanced() -> None:
    """Callbacks run on advance, in due order, each seeing the clock at its due time."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = VirtualClock(start)
    seen: list[tuple[str, datetime]] = []
    clock.call_later(20, lambda: seen.append(("b", clock.now())))
    clock.call_later(5, lambda: seen.append(("a", clock.now())))
    clock.call_later(60, lambda: seen.append(("c", clock.now())))
    assert clock.advance(4) == 0
    assert seen == []
    assert clock.advance(20) == 2
    assert seen == [("a", start + timedelta(seconds=5)), ("b", start + timedelta(seconds=20))]
    assert clock.now() == start + timedelta(seconds=24)
    assert clock.pending() == 1


def test_cancelled_virtual_timer_does_not_run() -> None:
    """A cancelled callback is skipped and no longer counted as pending."""
    clock = VirtualClock()
    ran: list[int] = []
    handle = clock.call_later(1, lambda: ran.append(1))
    handle.cancel()
    assert clock.pending() == 0
    clock.advance(10)
    assert ran == []


def test_wait_for_pending_sees_a_callback_scheduled_by_another_thread() -> None:
    """wait_for_pending returns once another thread has scheduled a callback."""
    clock = VirtualClock()
    thread = threading.Thread(target=lambda: clock.call_later(1, lambda: None))
    thread.start()
    assert clock.wait_for_pending(1, timeout=10)
    thread.join()
    assert not clock.wait_for_pending(2, timeout=0.01)


def test_system_clock_is_utc_and_calls_back() -> None:
    """The real clock tells aware UTC time and runs a callback on a timer thread."""
    clock = SystemClock()
    assert clock.now().tzinfo is UTC
    fired = threading.Event()
    clock.call_later(0, fired.set)
    assert fired.wait(10)
