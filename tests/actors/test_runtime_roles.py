"""One runtime per log runs handlers; the others on that log are its clients.

Two runtimes delivering to handlers on one log ran every handler twice (measured before
the lock: two processes, 40 handler calls for 20 commands), and every effect outside the
log with them. The tests count handler calls where the log cannot see them: in a file
each call appends a line to (``procs/counting_runtime.py``'s ``Counter``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter as Tally
from pathlib import Path
from typing import IO

import pytest

from sagalog.actors import Actor, ActorRuntimeError, Runtime, RuntimeStateError, handles
from sagalog.events import Command, Envelope, Event, Message
from sagalog.store import WorkerBusyError, open_store
from tests.actors.procs.counting_runtime import Count, Counter
from tests.support import LineReader, LogCapture

CHILD = Path(__file__).parent / "procs" / "counting_runtime.py"
DEADLINE_S = 60.0
PER_PROCESS = 10


def effects(path: Path) -> list[tuple[int, str]]:
    """The handler calls the effects file holds: (pid, command id) per line."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [(int(pid), item) for pid, item in (line.split(" ", 1) for line in lines)]


def types_in(db: Path) -> Tally[str]:
    """How many records of each type the log holds (read as stored: no decoding)."""
    with open_store(db, read_only=True) as store:
        return Tally(record.type for record in store.read_raw(1, 1_000_000))


def test_two_processes_with_role_auto_run_each_handler_once(tmp_path: Path) -> None:
    """Two embedding processes, each with Runtime(path, role="auto"), 20 commands:
    exactly 20 handler calls in all, every one in the worker; the other was a client."""
    db, counted = tmp_path / "log.db", tmp_path / "effects.txt"
    children = [subprocess.Popen(
        [sys.executable, str(CHILD), str(db), str(counted), name, str(PER_PROCESS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    ) for name in ("a", "b")]
    try:
        deadline = time.monotonic() + DEADLINE_S
        readers = [LineReader(child.stdout) for child in children]
        ready = [reader.next_line(deadline) for reader in readers]
        # Both are up before either appends: the one that started second found the lock
        # taken and became a client.
        roles = {line.split()[1]: int(line.split()[2]) for line in ready if line}
        assert sorted(roles) == ["client", "worker"], ready
        for child in children:
            send(child.stdin, "go")
        assert [reader.next_line(deadline) for reader in readers] == ["idle", "idle"]
        # Both waited until idle, the client for the worker's checkpoint: all is handled.
        calls = effects(counted)
        for child in children:
            send(child.stdin, "stop")
        assert [reader.next_line(deadline) for reader in readers] == ["stopped", "stopped"]
        assert [child.wait(timeout=DEADLINE_S) for child in children] == [0, 0]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
            for stream in (child.stdin, child.stdout, child.stderr):
                if stream is not None:
                    stream.close()
    items = [item for _, item in calls]
    assert len(calls) == 2 * PER_PROCESS, calls
    assert sorted(items) == sorted(f"{name}-{n}" for name in "ab" for n in range(PER_PROCESS))
    assert {pid for pid, _ in calls} == {roles["worker"]}
    found = types_in(db)
    assert (found["test.roles.Count"], found["test.roles.Counted"]) == (20, 20)


def send(stdin: IO[bytes] | None, line: str) -> None:
    assert stdin is not None
    stdin.write(f"{line}\n".encode())
    stdin.flush()


def test_a_second_handler_running_runtime_in_the_same_process_is_refused(
    tmp_path: Path,
) -> None:
    """flock locks belong to an open file: a second worker in one process is refused too,
    naming this PID; once the first stops, the lock is free again."""
    db = tmp_path / "log.db"
    first = Runtime(db, owner="the first runtime")
    assert first.role is None
    with first:
        assert first.role == "worker"
        second = Runtime(db)
        with pytest.raises(WorkerBusyError) as refused:
            second.start()
        assert f"PID {os.getpid()}, the first runtime;" in str(refused.value)
        assert f"kill -TERM {os.getpid()}" in str(refused.value)
        assert (refused.value.pid, refused.value.owner) == (os.getpid(), "the first runtime")
        with pytest.raises(RuntimeStateError):
            second.store  # noqa: B018 - refused at start: it is not running
    with Runtime(db) as again:
        assert again.role == "worker"


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_an_auto_runtime_beside_a_worker_is_its_client_and_runs_nothing(
    tmp_path: Path, backend: str
) -> None:
    """role="auto" with the lock taken: a client; its commands are handled once, by the
    worker, and its wait_until_idle waits for the worker's checkpoint (on every backend)."""
    db = str(tmp_path / "log.db") if backend == "sqlite" else f"memory:roles-{tmp_path.name}"
    counted = tmp_path / "effects.txt"
    with Runtime(db) as worker, Runtime(db, role="auto") as client:
        worker.add(Counter, str(counted))
        client.add(Counter, str(counted))
        assert (worker.role, client.role) == ("worker", "client")
        assert client.refusal is not None
        assert client.refusal.pid == os.getpid()
        for n in range(5):
            client.append("count", [Count(item=f"c-{n}")])
        assert client.wait_until_idle(DEADLINE_S)
        assert sorted(item for _, item in effects(counted)) == [f"c-{n}" for n in range(5)]
        last_command = max(r.position for r in client.store.read_all(types=[Count]))
        assert client.store.checkpoint("Counter") >= last_command  # the worker's, read here
        assert [r.type for r in client.store.read_all(types=["test.roles.Counted"])] == \
            ["test.roles.Counted"] * 5


class Held(Command, name="roles.Held"):
    n: int


class Released(Event, name="roles.Released"):
    n: int


class Gate(Actor):
    """Handles a command only once the test opens the gate: work a client must wait for."""

    gate = threading.Event()

    @handles(Held)
    def held(self, command: Held, envelope: Envelope[Message]) -> Released:
        if not Gate.gate.wait(DEADLINE_S):
            raise TimeoutError("the test never opened the gate")
        return Released(n=command.n)


def test_a_clients_wait_until_idle_waits_for_the_workers_actor(tmp_path: Path) -> None:
    """The client's idle check reads the worker's checkpoint: not idle while the worker's
    actor holds the command, idle (with the output in the log) once it has handled it."""
    db = tmp_path / "log.db"
    Gate.gate = threading.Event()
    with Runtime(db) as worker, Runtime(db, role="client", poll_interval=0.01) as client:
        worker.add(Gate)
        client.add(Gate)
        assert client.refusal is None  # a client never asks for the lock
        client.append("held", [Held(n=1)])
        assert client.wait_until_idle(0.3) is False
        Gate.gate.set()
        assert client.wait_until_idle(DEADLINE_S) is True
        assert [r.type for r in client.store.read_all(types=[Released])] == ["roles.Released"]


def test_a_client_holds_no_lock_so_a_worker_starts_after_it(tmp_path: Path) -> None:
    """role="client" never takes the lock: a worker started later still runs, and handles
    what the client appended before it started; the client runs no handler."""
    db, counted = tmp_path / "log.db", tmp_path / "effects.txt"
    with Runtime(db, role="client") as client:
        client.add(Counter, str(counted))
        for n in range(3):
            client.append("count", [Count(item=f"early-{n}")])
        assert client.wait_until_idle(0.2) is False  # nobody runs the handlers yet
        assert effects(counted) == []
        with Runtime(db) as worker:
            worker.add(Counter, str(counted))
            assert client.wait_until_idle(DEADLINE_S)
    assert sorted(item for _, item in effects(counted)) == [f"early-{n}" for n in range(3)]


def test_a_client_waiting_for_an_actor_the_worker_does_not_run_names_it(
    tmp_path: Path, logs: LogCapture
) -> None:
    """A worker without the client's actor never handles its commands: the client's idle
    check times out (False) and the warning names the actor."""
    db, counted = tmp_path / "log.db", tmp_path / "effects.txt"
    with Runtime(db) as worker, Runtime(db, role="auto") as client:
        worker.add(Gate)
        client.add(Counter, str(counted))
        client.append("count", [Count(item="lost")])
        assert client.wait_until_idle(0.3) is False
    warnings = logs.messages("WARNING")
    assert any("Counter still have records past their checkpoints" in w for w in warnings), \
        warnings


def test_a_worker_role_refused_across_processes_names_the_holder(tmp_path: Path) -> None:
    """A worker in another process: a second worker is refused naming its PID; "auto"
    becomes a client that knows the PID."""
    db, counted = tmp_path / "log.db", tmp_path / "effects.txt"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(db), str(counted), "holder", "0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        line = LineReader(child.stdout).next_line(time.monotonic() + DEADLINE_S)
        assert line == f"ready worker {child.pid}", line
        with pytest.raises(WorkerBusyError, match=f"PID {child.pid}, counting_runtime holder;"):
            Runtime(db).start()
        with Runtime(db, role="auto") as client:
            assert client.role == "client"
            assert client.refusal is not None
            assert client.refusal.pid == child.pid
    finally:
        child.kill()
        child.wait(timeout=10)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def test_an_unknown_role_is_refused_naming_the_roles(tmp_path: Path) -> None:
    with pytest.raises(ActorRuntimeError, match="role must be one of auto, worker, client, "
                                                "not 'boss'"):
        Runtime(tmp_path / "log.db", role="boss")  # type: ignore[arg-type]
