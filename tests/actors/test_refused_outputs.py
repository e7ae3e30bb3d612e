"""An output the log refuses fails its own input, never the actor or the batch around it.

Before, outputs were encoded only when the actor committed its whole batch: one refused
value (NaN, NUL, a lone surrogate) or stream id failed the commit, killed the actor, and
the restarted actor met the same batch again, until the runtime gave up on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagalog.actors import Actor, Emit, Runtime, VirtualClock, handles
from sagalog.events import Command, Envelope, Event, Message
from sagalog.events.runtime import HandlerFailed
from sagalog.store import open_store


class Measure(Command, name="refused.Measure"):
    n: int
    text: str = ""


class Measured(Event, name="refused.Measured"):
    n: int
    text: str
    detail: dict[str, Any]


class Poisoned(Actor):
    """n=2: NaN; n=3: a lone surrogate; n=4: a stream id with a NUL; n=5: raises with a NUL."""

    @handles(Measure)
    def measure(self, command: Measure, envelope: Envelope[Message]) -> Message | Emit:
        n = command.n
        if n == 5:
            msg = f"bad input \x00 and \ud800 at {n}"
            raise ValueError(msg)
        detail = {"rate": float("nan") if n == 2 else 1.0 * n}
        text = "lone \ud800" if n == 3 else "fine"
        measured = Measured(n=n, text=text, detail=detail)
        return Emit(measured, "bad\x00stream") if n == 4 else measured


def test_each_refused_output_is_its_own_dead_letter_and_the_rest_are_handled(
        tmp_path: Path) -> None:
    """Inputs 1 and 6 handled; 2, 3, 4 and 5 dead letters (5 after its retries), all storable;
    no actor died."""
    clock = VirtualClock()
    db = tmp_path / "log.db"
    with Runtime(db, durability="off", clock=clock) as runtime:
        runtime.add(Poisoned)
        runtime.append("m", [Measure(n=n) for n in range(1, 7)])
        for _ in range(2):  # input 5 raises: two retries on the clock, then a dead letter
            assert clock.wait_for_pending(1)
            clock.advance(10)
        assert runtime.wait_until_idle(30)
        assert runtime.restarts("Poisoned") == 0
    with open_store(db) as store:
        log = list(store.read_all())
        assert store.verify().ok
    assert [r.data.n for r in log if isinstance(r.data, Measured)] == [1, 6]
    dead = {r.data.input_position: r.data for r in log if isinstance(r.data, HandlerFailed)}
    assert {position: d.error_type for position, d in dead.items()} == {
        2: "UnportableValueError", 3: "UnportableValueError", 4: "InvalidStreamIdError",
        5: "ValueError"}
    assert dead[2].attempts == 1, "a refused output is not retried: it would be the same"
    assert dead[5].attempts == 3
    assert dead[5].error_message == "bad input \\x00 and \\ud800 at 5"
    assert "ActorDied" not in {r.type for r in log}
