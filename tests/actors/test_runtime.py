"""The runtime delivers committed messages to actors, in log order, exactly once per effect."""

from __future__ import annotations

import asyncio
import threading
from typing import ClassVar

import pytest

from sagalog.actors import (
    Actor,
    ActorDefinitionError,
    Emit,
    HandlerOutputError,
    RuntimeStateError,
    VirtualClock,
    handles,
)
from sagalog.actors import Runtime as _Runtime
from sagalog.events import Command, Envelope, Event, Message, derived_event_id
from sagalog.events.runtime import HandlerFailed
from sagalog.store import AsyncEventStore
from tests.support import run


class Ping(Command, name="rt.Ping"):
    n: int


class Pong(Event, name="rt.Pong"):
    n: int


class Echoed(Event, name="rt.Echoed"):
    n: int


class Audit(Event, name="rt.Audit"):
    n: int


def Runtime(path: str, **kwargs: object) -> _Runtime:
    kwargs.setdefault("durability", "off")
    kwargs.setdefault("clock", VirtualClock())
    return _Runtime(path, **kwargs)  # type: ignore[arg-type]


class Ponger(Actor):
    @handles(Ping)
    def ping(self, message: Ping, envelope: Envelope[Message]) -> list[object]:
        return [Pong(n=message.n), Emit(Audit(n=message.n), stream_id="audit")]


class Recorder(Actor):
    """Remembers what it saw, in order, on a class-level list per test."""

    seen: ClassVar[list[tuple[int, int]]] = []

    @handles(Pong)
    def pong(self, message: Pong, envelope: Envelope[Message]) -> Echoed:
        Recorder.seen.append((envelope.position, message.n))
        return Echoed(n=message.n)


@pytest.fixture(autouse=True)
def _reset_recorder() -> None:
    Recorder.seen = []


def records(path: str) -> list[Envelope[Message]]:
    async def read() -> list[Envelope[Message]]:
        async with AsyncEventStore.open(path) as store:
            return [r async for r in store.read_all()]

    return run(read())


def test_chain_of_actors_runs_through_the_log(db_path: str) -> None:
    """Messages pass from actor to actor only as committed records, in log order."""
    with Runtime(db_path) as runtime:
        runtime.add(Ponger)
        runtime.add(Recorder)
        for n in range(50):
            runtime.append(f"s{n}", [Ping(n=n)], correlation_id=f"c{n}")
        assert runtime.wait_until_idle(30)
    positions = [position for position, _ in Recorder.seen]
    assert positions == sorted(positions), "each actor sees its messages in log order"
    assert sorted(n for _, n in Recorder.seen) == list(range(50))
    kinds = [r.type for r in records(db_path)]
    assert kinds.count("rt.Pong") == kinds.count("rt.Echoed") == kinds.count("rt.Audit") == 50


def test_outputs_carry_correlation_causation_and_derived_ids(db_path: str) -> None:
    """An output inherits the input's correlation, names it as cause, and has a derived id."""
    with Runtime(db_path) as runtime:
        runtime.add(Ponger)
        (ping,) = runtime.append("order-7", [Ping(n=7)], correlation_id="saga-7")
        assert runtime.wait_until_idle(30)
    log = {r.type: r for r in records(db_path)}
    pong, audit = log["rt.Pong"], log["rt.Audit"]
    assert pong.stream_id == "order-7"
    assert audit.stream_id == "audit"
    for output in (pong, audit):
        assert output.correlation_id == "saga-7"
        assert output.causation_id == ping.event_id
    assert pong.event_id == derived_event_id(ping.event_id, "Ponger", 0)
    assert audit.event_id == derived_event_id(ping.event_id, "Ponger", 1)


def test_checkpoint_moves_with_the_outputs_and_restart_resumes_after_it(db_path: str) -> None:
    """After a restart an actor resumes after its checkpoint and handles nothing twice."""
    with Runtime(db_path) as runtime:
        runtime.add(Ponger)
        for n in range(10):
            runtime.append("s", [Ping(n=n)])
        assert runtime.wait_until_idle(30)
        first_checkpoint = runtime.store.checkpoint("Ponger")
    assert first_checkpoint == max(r.position for r in records(db_path) if r.type == "rt.Ping")
    with Runtime(db_path) as runtime:
        runtime.add(Ponger)
        runtime.append("s", [Ping(n=10)])
        assert runtime.wait_until_idle(30)
    pongs = [r.data.n for r in records(db_path) if isinstance(r.data, Pong)]
    assert pongs == list(range(11))


def test_rerun_with_different_output_keeps_the_first_and_warns(db_path: str, logs) -> None:
    """If a re-run's outputs differ from those recorded, the first recorded result stands."""

    async def prepare() -> None:
        async with AsyncEventStore.open(db_path) as store:
            (ping,) = await store.append("s", [Ping(n=1)])
            # As if an earlier run recorded other content under the derived id.
            await store.append("s", [Pong(n=999)], causation_id=ping.event_id,
                               event_ids=[derived_event_id(ping.event_id, "Ponger", 0)])

    run(prepare())
    with Runtime(db_path) as runtime:
        runtime.add(Ponger)
        assert runtime.wait_until_idle(30)
        assert runtime.store.checkpoint("Ponger") == 1
    pongs = [r.data for r in records(db_path) if isinstance(r.data, Pong)]
    assert pongs == [Pong(n=999)]
    assert any("first recorded result stands" in m for m in logs.messages("WARNING"))


class Flaky(Actor):
    failures_left: ClassVar[int] = 0
    calls: ClassVar[int] = 0

    @handles(Ping)
    def ping(self, message: Ping, envelope: Envelope[Message]) -> Pong:
        Flaky.calls += 1
        if Flaky.failures_left > 0:
            Flaky.failures_left -= 1
            msg = f"transient failure on {message.n}"
            raise ConnectionError(msg)
        return Pong(n=message.n)


def test_failing_handler_is_retried_on_the_clock(db_path: str) -> None:
    """A handler that fails twice is retried after its backoff and then succeeds."""
    clock = VirtualClock()
    Flaky.failures_left, Flaky.calls = 2, 0
    with Runtime(db_path, clock=clock) as runtime:
        runtime.add(Flaky)
        runtime.append("s", [Ping(n=1)])
        assert clock.wait_for_pending(1)
        assert not runtime.wait_until_idle(0.2), "waiting for its retry"
        clock.advance(0.5)
        assert clock.wait_for_pending(1)
        clock.advance(1.0)
        assert runtime.wait_until_idle(30)
    assert Flaky.calls == 3
    assert [r.type for r in records(db_path)] == ["rt.Ping", "rt.Pong"]


def test_exhausted_retries_record_a_dead_letter_and_move_on(db_path: str) -> None:
    """A poison message becomes a HandlerFailed record and the next message is handled."""
    clock = VirtualClock()
    Flaky.failures_left, Flaky.calls = 3, 0
    with Runtime(db_path, clock=clock) as runtime:
        runtime.add(Flaky)
        runtime.append("poison", [Ping(n=1)])
        runtime.append("fine", [Ping(n=2)])
        for _ in range(2):
            assert clock.wait_for_pending(1)
            clock.advance(10)
        assert runtime.wait_until_idle(30)
    log = records(db_path)
    failed = [r for r in log if isinstance(r.data, HandlerFailed)]
    assert len(failed) == 1
    dead = failed[0].data
    assert isinstance(dead, HandlerFailed)
    assert (dead.actor, dead.input_position, dead.input_type) == ("Flaky", 1, "rt.Ping")
    assert dead.error_type == "ConnectionError"
    assert "transient failure on 1" in dead.error_message
    assert "ConnectionError" in dead.traceback
    assert dead.attempts == 3
    assert failed[0].stream_id == "poison"
    assert [r.data for r in log if isinstance(r.data, Pong)] == [Pong(n=2)]


class Broken(Actor):
    @handles(Ping)
    def ping(self, message: Ping, envelope: Envelope[Message]) -> str:
        return "not a message"


def test_handler_returning_a_non_message_is_a_dead_letter(db_path: str) -> None:
    """A handler returning something that is not a message is recorded as failing."""
    clock = VirtualClock()
    with Runtime(db_path, clock=clock) as runtime:
        runtime.add(Broken)
        runtime.append("s", [Ping(n=1)])
        for _ in range(2):
            assert clock.wait_for_pending(1)
            clock.advance(10)
        assert runtime.wait_until_idle(30)
    dead = [r.data for r in records(db_path) if isinstance(r.data, HandlerFailed)]
    assert len(dead) == 1
    assert dead[0].error_type == HandlerOutputError.__name__


class Crash(BaseException):
    """Escapes every `except Exception`, as a bug in an actor's own code might."""


class Fragile(Actor):
    crashed: ClassVar[bool] = False

    @handles(Ping)
    def ping(self, message: Ping, envelope: Envelope[Message]) -> Pong:
        if not Fragile.crashed:
            Fragile.crashed = True
            raise Crash
        return Pong(n=message.n)


def test_dead_actor_is_recorded_restarted_and_resumes(db_path: str, logs) -> None:
    """An actor that dies is logged, recorded as ActorDied, restarted, and resumes."""
    Fragile.crashed = False
    with Runtime(db_path) as runtime, Runtime(str(db_path) + ".other") as bystander:
        bystander.add(Ponger)
        runtime.add(Fragile)
        runtime.append("s", [Ping(n=1)])
        assert runtime.wait_until_idle(30)
        assert runtime.restarts("Fragile") == 1
        bystander.append("b", [Ping(n=5)])
        assert bystander.wait_until_idle(30), "another runtime's actors are unaffected"
    kinds = [r.type for r in records(db_path)]
    assert kinds.count("ActorDied") == 1
    assert kinds.count("rt.Pong") == 1
    assert any("actor died" in m for m in logs.messages("ERROR"))


def test_stop_lets_the_handler_in_flight_finish_and_commit(db_path: str) -> None:
    """Stopping waits for the handler running now, and its outputs are committed."""
    entered, release = threading.Event(), threading.Event()

    class Slow(Actor):
        @handles(Ping)
        def ping(self, message: Ping, envelope: Envelope[Message]) -> Pong:
            entered.set()
            release.wait(10)
            return Pong(n=message.n)

    runtime = Runtime(db_path)
    runtime.start()
    runtime.add(Slow)
    runtime.append("s", [Ping(n=1)])
    assert entered.wait(10)
    stopper = threading.Thread(target=runtime.stop)
    stopper.start()
    release.set()
    stopper.join(30)
    assert not stopper.is_alive()
    assert [r.type for r in records(db_path)] == ["rt.Ping", "rt.Pong"]


def test_slow_actor_does_not_buffer_the_log(db_path: str) -> None:
    """A blocked actor holds at most one batch; the rest of the log stays in the store."""
    fetched_ahead: list[int] = []

    class Tiny(Actor):
        batch_size = 10

        @handles(Ping)
        def ping(self, message: Ping, envelope: Envelope[Message]) -> None:
            # The handler runs on the actor's thread: how far has it read the log?
            fetched_ahead.append(self._subscription.next_position - 1)

    with Runtime(db_path) as runtime:
        for start in range(0, 2000, 500):
            runtime.store.append("s", [Ping(n=n) for n in range(start, start + 500)])
        runtime.add(Tiny)
        assert runtime.wait_until_idle(30)
        assert runtime.store.checkpoint("Tiny") == 2000
    handled_so_far = range(1, 2001)
    assert max(ahead - done for ahead, done in zip(fetched_ahead, handled_so_far, strict=True)) < 10


def test_two_runtimes_in_one_process_keep_their_own_stores(tmp_path) -> None:
    """Several runtimes in one process each have their own store and actors."""
    first, second = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    with Runtime(first) as one, Runtime(second) as two:
        one.add(Ponger)
        two.add(Ponger)
        one.append("s", [Ping(n=1)])
        two.append("s", [Ping(n=2), Ping(n=3)])
        assert one.wait_until_idle(30)
        assert two.wait_until_idle(30)
    assert [r.data for r in records(first) if isinstance(r.data, Pong)] == [Pong(n=1)]
    assert [r.data for r in records(second) if isinstance(r.data, Pong)] == [Pong(n=2), Pong(n=3)]


def test_runtime_works_from_asyncio(db_path: str) -> None:
    """`async with Runtime(...)` starts and stops it without blocking the caller's loop."""

    async def scenario() -> None:
        async with Runtime(db_path) as runtime:
            runtime.add(Ponger)
            (ping,) = await runtime.append_async("s", [Ping(n=1)])
            assert ping.position == 1
            assert await asyncio.to_thread(runtime.wait_until_idle, 30)

    run(scenario())
    assert [r.type for r in records(db_path)].count("rt.Pong") == 1


def test_actor_declaration_errors_are_clear(db_path: str) -> None:
    """Registering a non-actor, a handler-less actor or a duplicate name is refused."""

    class Idle(Actor):
        pass

    runtime = Runtime(db_path)
    with pytest.raises(ActorDefinitionError, match="Actor subclass"):
        runtime.add(dict)  # type: ignore[arg-type]
    with pytest.raises(ActorDefinitionError, match="handles no message type"):
        runtime.add(Idle)
    runtime.add(Ponger)
    with pytest.raises(ActorDefinitionError, match="already registered"):
        runtime.add(Ponger)
    with pytest.raises(ActorDefinitionError, match="registered message classes"):
        handles(int)  # type: ignore[arg-type]
    with pytest.raises(RuntimeStateError, match="not running"):
        runtime.append("s", [Ping(n=1)])


def test_direct_messages_to_an_actor_are_refused(db_path: str) -> None:
    """Asking an actor directly fails: actors receive messages only through the log."""
    with Runtime(db_path) as runtime:
        runtime.add(Ponger)
        ref = runtime._specs["Ponger"].ref
        assert ref is not None
        with pytest.raises(TypeError, match="only through the log"):
            ref.ask(Ping(n=1))


def test_handler_named_like_the_actor_machinery_is_refused() -> None:
    """A handler called start (or stop, on_receive...) would replace pykka's; it is refused."""
    with pytest.raises(ActorDefinitionError, match="'start' is a name the actor machinery uses"):

        class Clash(Actor):
            @handles(Ping)
            def start(self, message: Ping, envelope: Envelope[Message]) -> None:  # type: ignore[override]
                pass
