"""Child of the role tests: an application that embeds a runtime with a counting actor.

Usage: counting_runtime.py LOG EFFECTS NAME COUNT

Starts ``Runtime(LOG, role="auto")`` with one actor, :class:`Counter`, whose handler has
an effect outside the log: it appends the line ``<pid> <command id>`` to the file
EFFECTS (``O_APPEND``: each line whole, whatever other process writes too). So the file
counts handler calls across processes, which the log (outputs under derived ids, never
twice) cannot. It talks with the parent over stdin and stdout, one flushed line each:

* prints ``ready <role> <pid>`` once started (``role``: worker or client);
* waits for ``go`` on stdin, appends COUNT commands ``NAME-0`` ... to its own stream,
  waits until idle (a client: until the worker has handled them) and prints ``idle``,
  or ``not idle`` if it was not within :data:`IDLE_TIMEOUT_S`;
* waits for ``stop`` (or the end of stdin), stops the runtime and prints ``stopped``.
"""

from __future__ import annotations

import os
import sys

from sagalog.actors import Actor, Runtime, handles
from sagalog.events import Command, Envelope, Event

IDLE_TIMEOUT_S = 60.0


class Count(Command, name="test.roles.Count"):
    item: str


class Counted(Event, name="test.roles.Counted"):
    item: str


class Counter(Actor):
    """Counts each command once in the effects file: the effect a double run would repeat."""

    def __init__(self, effects: str) -> None:
        super().__init__()
        self.effects = effects

    @handles(Count)
    def count(self, command: Count, envelope: Envelope[Count]) -> Counted:
        fd = os.open(self.effects, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{os.getpid()} {command.item}\n".encode())
        finally:
            os.close(fd)
        return Counted(item=command.item)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(log: str, effects: str, name: str, count: int) -> int:
    with Runtime(log, role="auto", owner=f"counting_runtime {name}") as runtime:
        runtime.add(Counter, effects)
        say(f"ready {runtime.role} {os.getpid()}")
        if sys.stdin.readline().strip() != "go":
            return 1
        for n in range(count):
            runtime.append(f"count-{name}", [Count(item=f"{name}-{n}")])
        say("idle" if runtime.wait_until_idle(IDLE_TIMEOUT_S) else "not idle")
        sys.stdin.readline()  # "stop", or the parent closed the pipe
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
