"""Every run wait of every workflow ends promptly once the runtime gives up on an actor.

In process, over a real log: an actor that dies each time it attaches (max_restarts 2),
and each workflow's wait for a run that can then never end. Each wait used to block for
its whole timeout (600 s, an hour for the master pipeline); here the timeout is 60 s, and
the wait must end long before, with the actor's name and cause.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sagalog.actors import Actor, ActorGaveUpError, Runtime, VirtualClock, handles
from sagalog.events import Envelope, Message
from sagalog.sagas.etl import wait_for_etl
from sagalog.sagas.master import wait_for_master
from sagalog.sagas.orders import wait_for_terminals
from sagalog.sagas.pipeline import wait_for_pipelines
from tests.support import Note

TIMEOUT_S = 60.0
PROMPT_S = 20.0
"""Far under the timeout: the wait ended because of the actor, not the clock."""


class BrokenAtStart(Actor):
    """Dies in its attach hook, every time: a broken configuration, say."""

    @handles(Note)
    def note(self, message: Note, envelope: Envelope[Message]) -> None:
        """Never reached."""

    def on_attach(self, checkpoint: int) -> None:
        msg = "no such queue: billing"
        raise LookupError(msg)


Wait = Callable[[Runtime], object]
WAITS: dict[str, Wait] = {
    "idle": lambda runtime: runtime.wait_until_idle(TIMEOUT_S),
    "orders": lambda runtime: wait_for_terminals(runtime, {"o-1"}, 1, timeout=TIMEOUT_S),
    "pipelines": lambda runtime: wait_for_pipelines(runtime, {"p-1"}, timeout=TIMEOUT_S),
    "master": lambda runtime: wait_for_master(runtime, {"m-1"}, timeout=TIMEOUT_S),
    "etl": lambda runtime: wait_for_etl(runtime.store, {"e-1"}, 1, timeout=TIMEOUT_S,
                                        runtime=runtime),
}


@pytest.mark.parametrize("wait", list(WAITS))
def test_a_wait_ends_with_the_actor_given_up_on(tmp_path: Path, wait: str) -> None:
    """ActorGaveUpError naming the actor, its deaths and its cause, well within the timeout."""
    with Runtime(tmp_path / "log.db", durability="off", clock=VirtualClock(),
                 max_restarts=2) as runtime:
        runtime.add(BrokenAtStart)
        runtime.append("notes", [Note(text="work it will never do")])
        began = time.monotonic()
        with pytest.raises(ActorGaveUpError) as gave_up:
            WAITS[wait](runtime)
        assert time.monotonic() - began < PROMPT_S
        assert set(runtime.gave_up) == {"BrokenAtStart"}
    error = gave_up.value
    assert (error.actor, error.deaths) == ("BrokenAtStart", 3)
    assert isinstance(error.cause, LookupError)
    assert str(error).endswith("(last cause: LookupError: no such queue: billing)")
