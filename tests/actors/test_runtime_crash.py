"""Crash safety of the runtime: a chain of actors SIGKILLed under load never loses or repeats work.

A child process (``procs/chain_worker.py``) runs a :class:`actors.Runtime` with a chain
of four actors (``Step0 -> Step1 -> Step2 (+ AuditNote elsewhere) -> Step3 -> Step4``)
and feeds it inputs, keeping several chains in flight. The parent SIGKILLs it at random
points, round after round, and after every kill checks the log: each actor's outputs
are committed exactly for the inputs up to its checkpoint (outputs and checkpoint in one
transaction), nothing is recorded twice, ids and causation are derived from the input.
A last child runs to idle; then every input has exactly one set of outputs.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from sagalog.events import Command, Event, derived_event_id
from sagalog.store import open_store
from tests.support import LineReader, wait_for_wal_write

pytestmark = pytest.mark.slow

HELPER = Path(__file__).parent / "procs" / "chain_worker.py"
SEED = 20240917
TOTAL = 300
GROUP = 4
WINDOW = 16
KILL_ROUNDS = 12
MAX_KILL_AFTER = 6
LINE_DEADLINE_S = 30.0
FINAL_DEADLINE_S = 90.0

# Same names, fields and constants as in ``procs/chain_worker.py``.
INPUT_NAMESPACE = uuid.UUID("6f1c3a52-3b0e-4a4e-9f7e-0c2b9d1e5a77")
AUDIT_STREAMS = 3


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


@dataclass(frozen=True)
class Hop:
    """One actor of the chain: what it handles and what it makes, in output order."""

    name: str
    handles: type
    outputs: tuple[type, ...]


HOPS = (
    Hop("hop1", Step0, (Step1,)),
    Hop("hop2", Step1, (Step2, AuditNote)),
    Hop("hop3", Step2, (Step3,)),
    Hop("hop4", Step3, (Step4,)),
)
TYPES = {cls.message_type: cls for cls in (Step0, Step1, Step2, Step3, Step4, AuditNote)}


def input_event_id(chain):
    return uuid.uuid5(INPUT_NAMESPACE, f"chain-{chain}")


def output_stream(kind, chain):
    return f"audit-{chain % AUDIT_STREAMS}" if kind is AuditNote else f"chain-{chain}"


def start_child(path, stderr):
    # The helper script runs from its own folder: put the tree on its path, so the test
    # also runs from a checkout whose packages are not installed.
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, str(HELPER), str(path), str(TOTAL), str(GROUP), str(WINDOW)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        bufsize=0,
    )


def expect(line, stderr_path, proc):
    assert line is not None, (
        f"the child exited early (rc {proc.poll()}): {stderr_path.read_text()[-3000:]}"
    )
    assert not line.startswith("error"), f"the child reported: {line}"
    return line.split()


def kill_round(path, kill_after, stderr_path, *, mid_write):
    """Start a child, read ``kill_after`` ``fed`` lines, SIGKILL it; return its lines.

    With ``mid_write``, the kill waits for the next change of the WAL file, so it lands
    while a transaction is being written rather than just after a line.
    """
    lines = []
    with stderr_path.open("wb") as stderr:
        proc = start_child(path, stderr)
        try:
            reader = LineReader(proc.stdout)
            deadline = time.monotonic() + LINE_DEADLINE_S
            fed_lines = -1  # the ``start`` line counts as the zeroth
            while fed_lines < kill_after:
                words = expect(reader.next_line(deadline), stderr_path, proc)
                lines.append(words)
                assert words[0] in {"start", "refed", "fed"}, (
                    f"the child got to {words[0]!r} before the kill: lower MAX_KILL_AFTER"
                )
                fed_lines += words[0] in {"start", "fed"}
            if mid_write:
                wait_for_wal_write(path, deadline)
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL, "the child died before the kill"
            while (line := reader.next_line(time.monotonic() + 10)) is not None:
                lines.append(expect(line, stderr_path, proc))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            proc.stdout.close()
    assert "Traceback" not in stderr_path.read_text(), stderr_path.read_text()[-3000:]
    return lines


def final_round(path, stderr_path):
    """Start a child and let it feed the rest, reach idle, stop and exit; return its lines."""
    lines = []
    with stderr_path.open("wb") as stderr:
        proc = start_child(path, stderr)
        try:
            reader = LineReader(proc.stdout)
            deadline = time.monotonic() + FINAL_DEADLINE_S
            while (line := reader.next_line(deadline)) is not None:
                lines.append(expect(line, stderr_path, proc))
            assert proc.wait(timeout=30) == 0, stderr_path.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            proc.stdout.close()
    assert "Traceback" not in stderr_path.read_text(), stderr_path.read_text()[-3000:]
    assert [words[0] for words in lines[-2:]] == ["idle", "done"], lines[-5:]
    return lines


@dataclass
class Snapshot:
    """The log as a reopened store shows it."""

    records: list
    checkpoints: dict
    ok: bool
    report: str


def inspect(path):
    with open_store(path, durability="full") as store:
        report = store.verify()
        records = list(store.read_all())
        checkpoints = {hop.name: store.checkpoint(hop.name) for hop in HOPS}
    assert report.records == len(records)
    return Snapshot(records, checkpoints, report.ok, str(report))


def check_log(snapshot, previous):
    """Assert the log is sound and each actor's outputs match its checkpoint exactly.

    Returns the records by (type name, chain).
    """
    records = snapshot.records
    assert snapshot.ok, snapshot.report
    assert [r.position for r in records] == list(range(1, len(records) + 1))
    # What an earlier round found is still there, unchanged.
    assert [(r.position, r.event_id) for r in records[: len(previous)]] == [
        (r.position, r.event_id) for r in previous
    ]

    strangers = [(r.position, r.type, r.data) for r in records if r.type not in TYPES]
    assert strangers == [], f"unexpected records (dead letters, actor deaths?): {strangers}"
    twice = [i for i, n in Counter(r.event_id for r in records).items() if n > 1]
    assert twice == [], f"event ids recorded twice: {twice}"
    keys = Counter((r.type, r.data.chain) for r in records)
    repeated = sorted(key for key, n in keys.items() if n > 1)
    assert repeated == [], f"outputs recorded more than once: {repeated}"
    versions = {}
    for record in records:
        versions.setdefault(record.stream_id, []).append(record.stream_version)
    for stream, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"stream {stream} versions {seen}"

    for record in records:
        if record.type == Step0.message_type:
            chain = record.data.chain
            assert record.stream_id == f"chain-{chain}"
            assert record.event_id == input_event_id(chain)
            assert record.correlation_id == f"chain-{chain}"
            assert record.causation_id is None

    by_key = {(r.type, r.data.chain): r for r in records}
    for hop in HOPS:
        check_hop(hop, snapshot.checkpoints[hop.name], records, by_key)
    return by_key


def check_hop(hop, checkpoint, records, by_key):
    """Assert ``hop``'s outputs are in the log for exactly its inputs up to its checkpoint."""
    if checkpoint:
        at = records[checkpoint - 1]
        assert at.type == hop.handles.message_type, (
            f"{hop.name}'s checkpoint {checkpoint} is not one of its inputs: {at}"
        )
    for source in records:
        if source.type != hop.handles.message_type:
            continue
        chain = source.data.chain
        made = [by_key.get((kind.message_type, chain)) for kind in hop.outputs]
        # Outputs and checkpoint commit in one transaction: the outputs are in the log
        # exactly for the inputs at or before the checkpoint, all of them or none.
        if source.position > checkpoint:
            assert made == [None] * len(made), (
                f"{hop.name} has outputs for chain {chain} at {source.position}, "
                f"past its checkpoint {checkpoint}: {made}"
            )
            continue
        assert None not in made, (
            f"{hop.name} checkpointed past {source.position} (chain {chain}) "
            f"but its outputs are {made}"
        )
        for index, (kind, output) in enumerate(zip(hop.outputs, made, strict=True)):
            assert output.event_id == derived_event_id(source.event_id, hop.name, index)
            assert output.causation_id == source.event_id
            assert output.correlation_id == source.correlation_id
            assert output.stream_id == output_stream(kind, chain)
            assert output.position > source.position
        assert len({output.recorded_at for output in made}) == 1, (
            f"{hop.name}'s outputs for chain {chain} span transactions: {made}"
        )
    # Nothing is made by a hop from an input that is not in the log.
    made_from = {
        (hop.handles.message_type, r.data.chain)
        for r in records
        if r.type in {kind.message_type for kind in hop.outputs}
    }
    assert made_from <= by_key.keys(), sorted(made_from - by_key.keys())


def chains_of(by_key, kind):
    return {chain for (name, chain) in by_key if name == kind.message_type}


def test_chain_of_actors_sigkilled_under_load_records_each_input_outputs_exactly_once(tmp_path):
    """After random SIGKILLs and a final run, every input has exactly one set of outputs."""
    path = tmp_path / "chain.db"
    rng = random.Random(SEED)
    records = []
    in_flight_at_kill = []
    for round_no in range(KILL_ROUNDS):
        lines = kill_round(
            path,
            rng.randint(0, MAX_KILL_AFTER),
            tmp_path / f"stderr-{round_no}.txt",
            mid_write=round_no % 2 == 1,
        )
        assert lines[0][0] == "start"
        snapshot = inspect(path)
        by_key = check_log(snapshot, records)
        records = snapshot.records
        fed = chains_of(by_key, Step0)
        assert fed == set(range(len(fed))), "inputs are fed in order, whole groups"
        # What the child reported committed before it died is in the log.
        reported = [words for words in lines if words[0] in {"start", "fed"}]
        assert max(int(words[1]) for words in reported) <= len(fed), reported[-3:]
        assert max(int(words[2]) for words in reported) <= len(chains_of(by_key, Step4))
        in_flight_at_kill.append(len(fed) - len(chains_of(by_key, Step4)))

    fed_before_final = len(chains_of(by_key, Step0))
    assert fed_before_final < TOTAL, "the kill rounds fed everything: lower MAX_KILL_AFTER"
    # The kills landed mid-work: most of them left inputs fed but not through the chain.
    assert sum(n > 0 for n in in_flight_at_kill) >= KILL_ROUNDS // 2, in_flight_at_kill

    lines = final_round(path, tmp_path / "stderr-final.txt")
    finished_before_final = fed_before_final - in_flight_at_kill[-1]
    assert lines[0] == ["start", str(fed_before_final), str(finished_before_final)]
    assert ["refed", "3"] in lines
    snapshot = inspect(path)
    by_key = check_log(snapshot, records)

    every = set(range(TOTAL))
    for kind in TYPES.values():
        assert chains_of(by_key, kind) == every, f"{kind.message_type} missing for some chains"
    assert len(snapshot.records) == 6 * TOTAL
    # Idle: each actor's checkpoint is the position of the last input it handles.
    for hop in HOPS:
        last = max(r.position for r in snapshot.records if r.type == hop.handles.message_type)
        assert snapshot.checkpoints[hop.name] == last, (hop.name, snapshot.checkpoints)
