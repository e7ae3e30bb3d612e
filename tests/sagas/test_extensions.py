"""Results-aware builds and gates, per-step streams, ForEach fan-out and recorded skips.

Pure ``decide`` on synthetic streams, like ``test_decide``; the last test runs a
fan-out through real actors to prove the cap from the recorded log.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime

from sagalog.actors import Actor, Emit, RetryPolicy, Runtime, Schedule, handles
from sagalog.events import Command, Envelope, Event, Message, new_event_id
from sagalog.events.runtime import HandlerFailed
from sagalog.events.sagas import RetryStep, SagaDecided
from sagalog.sagas import (
    ForEach,
    Gate,
    Results,
    SagaDefinition,
    SagaState,
    Stage,
    Step,
    Verdict,
    decide,
    saga_actor,
)


class RunStarted(Event, name="test.ext.RunStarted"):
    run_id: str
    items: tuple[str, ...] = ()
    size: int = 0


class Measure(Command, name="test.ext.Measure"):
    run_id: str


class Measured(Event, name="test.ext.Measured"):
    run_id: str
    size: int


class Store(Command, name="test.ext.Store"):
    run_id: str
    size: int


class Stored(Event, name="test.ext.Stored"):
    run_id: str


class Refresh(Command, name="test.ext.Refresh"):
    run_id: str
    item: str


class Refreshed(Event, name="test.ext.Refreshed"):
    run_id: str
    item: str


class RefreshFailed(Event, name="test.ext.RefreshFailed"):
    run_id: str
    item: str


class RunDone(Event, name="test.ext.RunDone"):
    run_id: str
    summary: str


class RunFailed(Event, name="test.ext.RunFailed"):
    run_id: str
    reason: str
    steps_seen: list[str]


def _start(start: Event) -> RunStarted:
    assert isinstance(start, RunStarted)
    return start


def _big_enough(start: Event, results: Results) -> Verdict:
    measured = results["measure"]
    assert isinstance(measured.data, Measured)
    if measured.data.size > _start(start).size:
        return Verdict(passed=True, reason=f"size {measured.data.size} (pos {measured.position})")
    return Verdict(passed=False, reason=f"size {measured.data.size} unchanged since pos "
                                        f"{measured.position}")


def _store(start: Event, results: Results) -> Store:
    measured = results["measure"].data
    assert isinstance(measured, Measured)
    return Store(run_id=_start(start).run_id, size=measured.size)


def _done(start: Event, results: Results) -> RunDone:
    return RunDone(run_id=_start(start).run_id, summary=",".join(sorted(results)))


def _failed(start: Event, reason: str, _undone: list[str], results: Results) -> RunFailed:
    return RunFailed(run_id=_start(start).run_id, reason=reason, steps_seen=sorted(results))


def definition(cap: int = 2, retry: RetryPolicy | None = None, *, tail: bool = True,
               ) -> SagaDefinition:
    return SagaDefinition(
        name="ext",
        start=RunStarted,
        saga_id=lambda s: _start(s).run_id,
        stream=lambda s: f"run-{_start(s).run_id}",
        stages=(
            Stage((Step("measure", command=lambda s: Measure(run_id=_start(s).run_id),
                        succeeded=(Measured,), failed=(),
                        stream=lambda _s: "queue-measure"),), name="probe"),
            Stage((Step("store", command=_store, succeeded=(Stored,), failed=()),),
                  gate=Gate("bigger", _big_enough, otherwise="stop"), name="keep"),
            Stage((ForEach("refresh", items=lambda s: _start(s).items,
                           command=lambda s, item: Refresh(run_id=_start(s).run_id, item=item),
                           item_of=lambda e: e.item,  # type: ignore[attr-defined]
                           succeeded=(Refreshed,), failed=(RefreshFailed,),
                           concurrency=cap, retry=retry or RetryPolicy(attempts=1, delay=0)),),
                  name="fan-out"),
            *([Stage((Step("last", command=lambda s: Measure(run_id=_start(s).run_id),
                           succeeded=(Stored,), failed=()),), name="tail")] if tail else []),
        ),
        completed=_done,
        failed=_failed,
    )


_positions = itertools.count(1)


def record(data: Message) -> Envelope[Message]:
    kind = type(data)
    return Envelope(next(_positions), "run-r", 1, new_event_id(), kind.message_type,
                    kind.message_version, datetime(2026, 1, 1, tzinfo=UTC), "r", None, data)


def feed(saga: SagaDefinition, events: Sequence[Message], state: SagaState | None = None,
         ) -> tuple[SagaState | None, list]:
    decisions = []
    for data in events:
        state, made = decide(saga, state, record(data))
        decisions += made
    return state, decisions


def emitted(decisions: list) -> list[tuple[str, str]]:
    """(type, stream) of every output but the decision records."""
    found = []
    for decision in decisions:
        for output in decision.outputs:
            if isinstance(output, Emit) and not isinstance(output.message, SagaDecided):
                found.append((type(output.message).message_type, output.stream_id))
            elif isinstance(output, Schedule):
                found.append((type(output.message).message_type, output.stream_id or ""))
    return found


START = RunStarted(run_id="r", items=("a", "b", "c", "d"), size=10)


def test_a_step_goes_to_its_own_stream_and_a_later_one_is_built_from_results() -> None:
    _, decisions = feed(definition(), [START])
    assert emitted(decisions) == [("test.ext.Measure", "queue-measure")]
    _, decisions = feed(definition(), [START, Measured(run_id="r", size=42)])
    stores = [o.message for d in decisions for o in d.outputs
              if isinstance(o, Emit) and isinstance(o.message, Store)]
    assert stores == [Store(run_id="r", size=42)]
    start_keep = [d for d in decisions if d.rule == "start-stage"][-1]
    assert start_keep.reason.endswith("; gate bigger: size 42 (pos "
                                      f"{start_keep.reason.split('pos ')[-1]}")
    assert "started stage keep: store because test.ext.Measured at" in start_keep.reason


def test_a_stopping_gate_records_its_reason_and_every_stage_it_skipped() -> None:
    state, decisions = feed(definition(), [START, Measured(run_id="r", size=3)])
    assert state is not None
    assert state.status == "completed"
    rules = [(d.rule, d.reason) for d in decisions][1:]
    assert rules[0][0] == "stop"
    assert rules[0][1].startswith("stopped before stage keep (store): size 3 unchanged since pos")
    assert rules[1] == ("skip", ("skipped stage fan-out (refresh): halted because gate bigger "
                                "stopped the saga"))
    assert rules[2] == ("skip", ("skipped stage tail (last): halted because gate bigger stopped "
                                "the saga"))
    assert rules[3][0] == "complete"
    done = [o.message for d in decisions for o in d.outputs
            if isinstance(o, Emit) and isinstance(o.message, RunDone)]
    assert done == [RunDone(run_id="r", summary="measure")]


def _through_store() -> list[Message]:
    return [START, Measured(run_id="r", size=42), Stored(run_id="r")]


def _in_flight(state: SagaState) -> set[str]:
    return {key for key, own in state.steps.items()
            if "[" in key and own.status in ("running", "waiting_retry")}


def test_fan_out_never_runs_more_than_the_cap() -> None:
    state, decisions = feed(definition(cap=2), _through_store())
    assert state is not None
    refreshes = [m for m, _ in emitted(decisions) if m == "test.ext.Refresh"]
    assert len(refreshes) == 2
    assert _in_flight(state) == {"refresh[a]", "refresh[b]"}
    state, decisions = feed(definition(cap=2), [Refreshed(run_id="r", item="b")], state)
    assert state is not None
    assert _in_flight(state) == {"refresh[a]", "refresh[c]"}
    assert decisions[-1].rule == "item-succeeded"
    assert decisions[-1].reason.startswith("refresh[b] succeeded")
    assert "1 of 4 done; started refresh[c] (at most 2 at once)" in decisions[-1].reason
    state, _ = feed(definition(cap=2), [Refreshed(run_id="r", item="b"),  # a duplicate
                                        Refreshed(run_id="r", item="zz")], state)  # not ours
    assert state is not None
    assert _in_flight(state) == {"refresh[a]", "refresh[c]"}
    state, decisions = feed(definition(cap=2), [Refreshed(run_id="r", item=i)
                                                for i in "acd"], state)
    assert state is not None
    assert state.steps["refresh"].status == "succeeded"
    assert [m for m, _ in emitted(decisions)] == ["test.ext.Refresh", "test.ext.Measure"]
    assert state.stage == 3


def test_an_item_is_retried_and_its_final_failure_halts_the_rest() -> None:
    saga = definition(cap=1, retry=RetryPolicy(attempts=2, delay=30.0))
    state, decisions = feed(saga, [*_through_store(), RefreshFailed(run_id="r", item="a")])
    assert state is not None
    assert decisions[-1].rule == "retry"
    assert decisions[-1].reason.startswith("retry refresh[a] in 30 s (try 2 of 2)")
    assert _in_flight(state) == {"refresh[a]"}  # waiting for its retry, it holds its slot
    state, decisions = feed(saga, [RetryStep(saga_id="r", step="refresh[a]", attempt=2),
                                   RefreshFailed(run_id="r", item="a")], state)
    assert state is not None
    assert state.status == "failed"
    rules = [(d.rule, d.reason) for d in decisions]
    assert rules[0][0] == "retry"
    assert ("skip", ("never started refresh[b], refresh[c], refresh[d]: halted because "
                    f"refresh[a] failed: test.ext.RefreshFailed at {_positions_seen(decisions)}")
            ) in rules
    assert any(rule == "skip" and reason.startswith("skipped stage tail (last): halted")
               for rule, reason in rules)
    failed = [o.message for d in decisions for o in d.outputs
              if isinstance(o, Emit) and isinstance(o.message, RunFailed)]
    assert failed[0].steps_seen == ["measure", "refresh[a]", "store"]


def _positions_seen(decisions: list) -> int:
    return next(d for d in decisions if d.rule == "fail").outputs[0].message.trigger_position


def test_a_dead_letter_fails_the_item_in_flight() -> None:
    state, _ = feed(definition(cap=1), _through_store())
    dead = HandlerFailed(actor="refresher", input_position=9, input_event_id="x",
                         input_type="test.ext.Refresh", error_type="OSError", error_message="",
                         traceback="", attempts=3)
    state, decisions = feed(definition(cap=1), [dead], state)
    assert state is not None
    assert state.status == "failed"
    assert state.steps["refresh[a]"].status == "failed"
    assert decisions[0].reason.startswith("nothing to undo because refresh[a] failed: "
                                          "refresher failed on it: OSError")


def test_an_empty_fan_out_goes_straight_on() -> None:
    state, decisions = feed(definition(), [RunStarted(run_id="r", items=(), size=1),
                                           Measured(run_id="r", size=42), Stored(run_id="r")])
    assert state is not None
    assert any(d.reason.startswith("started stage fan-out: refresh (no items) because")
               for d in decisions)
    assert state.stage == 3
    assert emitted(decisions)[-1] == ("test.ext.Measure", "run-r")


class Refresher(Actor):
    """Answers each command at once; the log records when each item started and ended."""

    @handles(Measure)
    def measure(self, command: Measure, _envelope: Envelope[Message]) -> Message:
        return Measured(run_id=command.run_id, size=99)

    @handles(Store)
    def store(self, command: Store, _envelope: Envelope[Message]) -> Message:
        return Stored(run_id=command.run_id)

    @handles(Refresh)
    def refresh(self, command: Refresh, _envelope: Envelope[Message]) -> Message:
        return Refreshed(run_id=command.run_id, item=command.item)


def test_the_cap_holds_in_the_recorded_log_of_a_real_run(tmp_path) -> None:
    """Items start and finish through real actors; the log proves at most 3 ran at once."""
    items = tuple(f"model-{n}" for n in range(12))
    with Runtime(str(tmp_path / "log.db")) as runtime:
        runtime.add(Refresher)
        runtime.add(saga_actor(definition(cap=3, tail=False)), name="saga:ext")
        runtime.append("run-r", [RunStarted(run_id="r", items=items, size=1)],
                       correlation_id="r")
        runtime.wait_until_idle(timeout=30)
        records = list(runtime.store.read_all())
    in_flight, peak = set(), 0
    for rec in records:
        if isinstance(rec.data, Refresh):
            in_flight.add(rec.data.item)
            peak = max(peak, len(in_flight))
        elif isinstance(rec.data, Refreshed):
            in_flight.discard(rec.data.item)
    assert peak == 3
    assert sorted(r.data.item for r in records if isinstance(r.data, Refreshed)) == sorted(items)
    assert any(isinstance(r.data, RunDone) for r in records)
