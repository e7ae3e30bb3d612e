"""Crash-test child: a chain of four actors over one log, fed inputs under load.

Usage: chain_worker.py PATH TOTAL GROUP WINDOW

Opens a :class:`actors.Runtime` on PATH (``durability="full"``) with four actors::

    Step0 --hop1--> Step1 --hop2--> Step2 (+ AuditNote to an audit stream) --hop3--> Step3
          --hop4--> Step4

Then it feeds the inputs ``Step0(chain=c)`` for ``c`` in ``range(TOTAL)`` that the log
does not hold yet, GROUP chains per transaction, each to stream ``chain-<c>`` under the
event id :func:`input_event_id` ``(c)`` (so feeding a chain again is idempotent). It keeps
at most WINDOW chains in flight (fed without a ``Step4``), so the actors are always busy
and a kill always finds work half done. Lines on stdout, each flushed:

* ``start <fed> <finished>``: the runtime is up; the log held ``fed`` inputs and
  ``finished`` chains (with a ``Step4``) when the child started.
* ``refed <n>``: the last ``n`` inputs already in the log were appended again, and the
  store answered with the records it had (nothing appended).
* ``fed <fed> <finished>``: after each group of inputs is committed.
* ``idle``: every input is fed and every actor has handled everything.
* ``done``: the runtime has stopped gracefully; the child then exits 0.

Any failure prints ``error ...`` and exits non-zero. The parent SIGKILLs the child
whenever it likes; a child left alone runs to ``done``.
"""

from __future__ import annotations

import sys
import uuid

from sagalog.actors import Actor, Emit, Runtime, handles
from sagalog.events import Command, Envelope, Event
from sagalog.store import AppendRequest, EventStoreProtocol

INPUT_NAMESPACE = uuid.UUID("6f1c3a52-3b0e-4a4e-9f7e-0c2b9d1e5a77")
AUDIT_STREAMS = 3
REFEED = 3
IDLE_TIMEOUT_S = 60.0


def input_event_id(chain: int) -> uuid.UUID:
    """The fixed event id of chain ``chain``'s input."""
    return uuid.uuid5(INPUT_NAMESPACE, f"chain-{chain}")


class Step0(Command, name="test.chain.Step0"):
    chain: int


class Step1(Event, name="test.chain.Step1"):
    chain: int


class Step2(Event, name="test.chain.Step2"):
    chain: int


class Step3(Event, name="test.chain.Step3"):
    chain: int


class Step4(Event, name="test.chain.Step4"):
    chain: int


class AuditNote(Event, name="test.chain.AuditNote"):
    chain: int


class Hop1(Actor):
    @handles(Step0)
    def hop(self, message: Step0, _envelope: Envelope) -> Step1:
        return Step1(chain=message.chain)


class Hop2(Actor):
    """Two outputs to two streams: both must be committed, or neither."""

    @handles(Step1)
    def hop(self, message: Step1, _envelope: Envelope) -> list[Step2 | Emit]:
        audit = Emit(AuditNote(chain=message.chain), f"audit-{message.chain % AUDIT_STREAMS}")
        return [Step2(chain=message.chain), audit]


class Hop3(Actor):
    batch_size = 5  # small batches: a catch-up after a kill takes several commits

    @handles(Step2)
    def hop(self, message: Step2, _envelope: Envelope) -> Step3:
        return Step3(chain=message.chain)


class Hop4(Actor):
    @handles(Step3)
    def hop(self, message: Step3, _envelope: Envelope) -> Step4:
        return Step4(chain=message.chain)


ACTORS = {"hop1": Hop1, "hop2": Hop2, "hop3": Hop3, "hop4": Hop4}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def input_request(chain: int) -> AppendRequest:
    return AppendRequest(
        f"chain-{chain}",
        [Step0(chain=chain)],
        correlation_id=f"chain-{chain}",
        event_ids=[input_event_id(chain)],
    )


def finished(store: EventStoreProtocol) -> int:
    return sum(1 for _ in store.read_all(types=[Step4]))


def main(path: str, total: int, group: int, window: int) -> int:
    with Runtime(path, durability="full") as runtime:
        for name, actor in ACTORS.items():
            runtime.add(actor, name=name)
        store = runtime.store
        inputs = {record.data.chain: record for record in store.read_all(types=[Step0])}
        say(f"start {len(inputs)} {finished(store)}")

        # Feeding an input again (as a feeder restarted after a crash would) appends nothing.
        again = sorted(inputs)[-REFEED:]
        if again:
            answers = store.append_all([input_request(chain) for chain in again])
            got = [(a[0].position, a[0].event_id) for a in answers]
            had = [(inputs[c].position, inputs[c].event_id) for c in again]
            if got != had:
                say(f"error refeeding {again}: the store answered {got}, the log held {had}")
                return 2
            say(f"refed {len(again)}")

        missing = [chain for chain in range(total) if chain not in inputs]
        fed = len(inputs)
        for start in range(0, len(missing), group):
            while fed - finished(store) >= window:
                store.wait_for_commit(0.25)
            chains = missing[start : start + group]
            store.append_all([input_request(chain) for chain in chains])
            fed += len(chains)
            say(f"fed {fed} {finished(store)}")

        if not runtime.wait_until_idle(timeout=IDLE_TIMEOUT_S):
            say("error the actors did not become idle")
            return 3
        say("idle")
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
