"""Durable timers: scheduled messages are events, fired on the clock, re-armed after a restart."""

from __future__ import annotations

from datetime import timedelta

from sagalog.actors import Actor, CancelTimer, Runtime, Schedule, VirtualClock, handles
from sagalog.events import Command, Envelope, Event, Message
from sagalog.events.runtime import TimerCancelled, TimerFired, TimerScheduled
from sagalog.store import EventStoreProtocol


class StartWait(Command, name="tm.StartWait"):
    seconds: float
    cancel: bool = False


class Expired(Event, name="tm.Expired"):
    note: str


class Waiter(Actor):
    @handles(StartWait)
    def begin(self, command: StartWait, envelope: Envelope[Message]) -> list[object]:
        outputs: list[object] = [
            Schedule(
                Expired(note="late"), delay=command.seconds, timer_id=f"t-{envelope.stream_id}"
            )
        ]
        if command.cancel:
            outputs.append(CancelTimer(f"t-{envelope.stream_id}"))
        return outputs


def wait_for(store: EventStoreProtocol, kind: type[Message],
             count: int = 1) -> list[Envelope[Message]]:
    """Block (with a deadline) until ``count`` records of ``kind`` are in the log."""
    subscription = store.subscribe(types=[kind])
    found: list[Envelope[Message]] = []
    while len(found) < count:
        batch = subscription.next_batch(10, timeout=60)  # a hang guard
        assert batch, f"no {kind.__name__} within the deadline"
        found.extend(batch)
    subscription.close()
    return found


def kinds(store: EventStoreProtocol) -> list[str]:
    return [record.type for record in store.read_all()]


def test_timer_fires_when_the_clock_reaches_it(db_path: str) -> None:
    """A scheduled message is recorded as TimerScheduled and appended only once due."""
    clock = VirtualClock()
    with Runtime(db_path, durability="off", clock=clock) as runtime:
        runtime.add(Waiter)
        runtime.append("job-1", [StartWait(seconds=30)], correlation_id="run-1")
        assert runtime.wait_until_idle(30)
        assert clock.wait_for_pending(1)
        (scheduled,) = [r for r in runtime.store.read_all() if isinstance(r.data, TimerScheduled)]
        assert scheduled.data.due_at == clock.now() + timedelta(seconds=30)  # type: ignore[attr-defined]
        clock.advance(29)
        assert "tm.Expired" not in kinds(runtime.store)
        clock.advance(1)
        (expired,) = wait_for(runtime.store, Expired)
        assert expired.stream_id == "job-1"
        assert expired.correlation_id == "run-1"
        assert expired.causation_id == scheduled.event_id
        assert runtime.wait_until_idle(30)
        assert kinds(runtime.store).count("TimerFired") == 1
        assert clock.pending() == 0


def test_cancelled_timer_never_fires(db_path: str) -> None:
    """A timer cancelled before it is due appends nothing when its time comes."""
    clock = VirtualClock()
    with Runtime(db_path, durability="off", clock=clock) as runtime:
        runtime.add(Waiter)
        runtime.append("job-2", [StartWait(seconds=5, cancel=True)])
        assert runtime.wait_until_idle(30)
        clock.advance(60)
        assert runtime.wait_until_idle(30)
        log = kinds(runtime.store)
    assert "TimerCancelled" in log
    assert "tm.Expired" not in log
    assert "TimerFired" not in log


def test_pending_timer_is_rearmed_from_the_log_after_a_restart(db_path: str) -> None:
    """A timer scheduled before a stop fires once after the restart, at its due time."""
    clock = VirtualClock()
    with Runtime(db_path, durability="off", clock=clock) as runtime:
        runtime.add(Waiter)
        runtime.append("job-3", [StartWait(seconds=300)])
        assert runtime.wait_until_idle(30)
        assert clock.wait_for_pending(1)
    clock.advance(100)  # time passes while nothing runs; nothing fires
    with Runtime(db_path, durability="off", clock=clock) as runtime:
        runtime.add(Waiter)
        assert runtime.wait_until_idle(30)
        assert clock.wait_for_pending(1), "re-armed from the log"
        clock.advance(199)
        assert "tm.Expired" not in kinds(runtime.store)
        clock.advance(1)
        wait_for(runtime.store, Expired)
        assert runtime.wait_until_idle(30)
        assert kinds(runtime.store).count("tm.Expired") == 1


def test_overdue_timer_fires_at_once_on_restart_and_only_once(db_path: str) -> None:
    """A timer that fell due while stopped fires on start, and a later start fires nothing."""
    clock = VirtualClock()
    with Runtime(db_path, durability="off", clock=clock) as runtime:
        runtime.add(Waiter)
        runtime.append("job-4", [StartWait(seconds=10)])
        assert runtime.wait_until_idle(30)
    clock.advance(3600)
    with Runtime(db_path, durability="off", clock=clock) as runtime:
        runtime.add(Waiter)
        assert clock.wait_for_pending(1), "re-armed, already due"
        clock.advance(0)
        wait_for(runtime.store, Expired)
        assert runtime.wait_until_idle(30)
    with Runtime(db_path, durability="off", clock=clock) as runtime:
        runtime.add(Waiter)
        assert runtime.wait_until_idle(30)
        assert clock.pending() == 0, "a fired timer is not re-armed"
        log = kinds(runtime.store)
    assert log.count("tm.Expired") == 1
    assert log.count(TimerFired.message_type) == 1
    assert TimerCancelled.message_type not in log
