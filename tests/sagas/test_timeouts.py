"""Step timeouts and escalation through a real runtime: durable timers on a virtual clock."""

from __future__ import annotations

from typing import ClassVar

from sagalog.actors import (
    Actor,
    MockNotificationHandler,
    RetryPolicy,
    Runtime,
    VirtualClock,
    handles,
)
from sagalog.events import Command, Envelope, Event, Message
from sagalog.sagas import ManualReviewDispatcher, SagaDefinition, Stage, Step, saga_actor


class Started(Event, name="to.Started"):
    key: str


class Reserve(Command, name="to.Reserve"):
    key: str


class Release(Command, name="to.Release"):
    key: str


class Ship(Command, name="to.Ship"):
    key: str


class Reserved(Event, name="to.Reserved"):
    key: str


class Released(Event, name="to.Released"):
    key: str


class Shipped(Event, name="to.Shipped"):
    key: str


class Done(Event, name="to.Done"):
    key: str


class Failed(Event, name="to.Failed"):
    key: str
    undone: list[str]


SAGA = SagaDefinition(
    name="timeouts",
    start=Started,
    saga_id=lambda s: s.key,  # type: ignore[attr-defined]
    stages=(
        Stage((Step("reserve", command=lambda s: Reserve(key=s.key),  # type: ignore[attr-defined]
                    succeeded=(Reserved,), failed=(),
                    compensation=lambda s: Release(key=s.key),  # type: ignore[attr-defined]
                    compensated=(Released,), timeout=60.0,
                    retry=RetryPolicy(attempts=2, delay=10.0)),)),
        Stage((Step("ship", command=lambda s: Ship(key=s.key),  # type: ignore[attr-defined]
                    succeeded=(Shipped,), failed=(), timeout=30.0),)),
    ),
    completed=lambda s: Done(key=s.key),  # type: ignore[attr-defined]
    failed=lambda s, reason, undone: Failed(key=s.key, undone=undone),  # type: ignore[attr-defined]
)


class Warehouse(Actor):
    """Reserves at once; never answers a release while ``broken``."""

    broken: ClassVar[bool] = False

    @handles(Reserve)
    def reserve(self, command: Reserve, envelope: Envelope[Message]) -> Reserved:
        return Reserved(key=command.key)

    @handles(Release)
    def release(self, command: Release, envelope: Envelope[Message]) -> Released | None:
        return None if Warehouse.broken else Released(key=command.key)


class Carrier(Actor):
    """Never answers: every shipment times out."""

    @handles(Ship)
    def ship(self, command: Ship, envelope: Envelope[Message]) -> None:
        return None


def kinds(runtime: Runtime) -> list[str]:
    return [r.type for r in runtime.store.read_all()]


def settle(runtime: Runtime, clock: VirtualClock, seconds: float) -> None:
    """Let the actors finish, then move the clock on and let them finish again."""
    assert runtime.wait_until_idle(30)
    assert clock.wait_for_pending(1)
    clock.advance(seconds)
    assert runtime.wait_until_idle(30)


def test_a_step_that_never_answers_times_out_and_the_saga_undoes(db_path: str) -> None:
    """Ship's 30 s timeout is a recorded failure; the reservation is released."""
    clock = VirtualClock()
    Warehouse.broken = False
    with Runtime(db_path, durability="off", clock=clock) as runtime:
        runtime.add(Warehouse)
        runtime.add(Carrier)
        runtime.add(saga_actor(SAGA))
        runtime.append("k1", [Started(key="k1")], correlation_id="k1")
        settle(runtime, clock, 29)
        assert "to.Failed" not in kinds(runtime)
        clock.advance(1)
        assert runtime.wait_until_idle(30)
        log = kinds(runtime)
        reasons = [r.data.reason for r in runtime.store.read_all(types=["SagaDecided"])]  # type: ignore[attr-defined]
    assert "StepTimedOut" in log
    assert log.index("to.Release") > log.index("StepTimedOut")
    assert log[-1] == "to.Failed"
    assert any("no answer within 30 s" in reason for reason in reasons)


def test_a_compensation_that_never_answers_escalates_and_notifies(db_path: str) -> None:
    """A release that keeps timing out is retried, then a person is notified."""
    clock = VirtualClock()
    Warehouse.broken = True
    handler = MockNotificationHandler()
    with Runtime(db_path, durability="off", clock=clock) as runtime:
        runtime.add(Warehouse)
        runtime.add(Carrier)
        runtime.add(saga_actor(SAGA))
        runtime.add(ManualReviewDispatcher, handler)
        runtime.append("k2", [Started(key="k2")], correlation_id="k2")
        settle(runtime, clock, 30)   # ship times out: release is sent
        settle(runtime, clock, 60)   # release times out: retry in 10 s
        settle(runtime, clock, 10)   # the retried release goes out
        settle(runtime, clock, 60)   # ... and times out again: escalate
        log = kinds(runtime)
    assert log.count("to.Release") == 2
    assert "ManualReviewRequired" in log
    assert "to.Failed" not in log
    (sent,) = handler.sent
    assert "k2" in sent.subject
