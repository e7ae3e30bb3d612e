"""Crash safety: a writer process SIGKILLed at random moments never loses or tears a batch.

A child process (``procs/crash_appender.py``) appends batches with several concurrent
tasks and prints ``ack <batch> <first> <last>`` after each append returns. The parent
kills it after a random number of acks, reopens the file and checks it, then starts a
new child on the same file, round after round.
"""

import asyncio
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from sagalog.events import Event
from sagalog.store import AsyncEventStore
from tests.support import LineReader, wait_for_wal_write

pytestmark = pytest.mark.slow

HELPER = Path(__file__).parent / "procs" / "crash_appender.py"
ROUNDS = 10
TASKS = 4
# Fewer than TASKS: a process that commits back to back can hold SQLite's write lock
# for seconds against another process's busy-wait, which only makes the test slow.
SURVIVOR_TASKS = 2
STREAMS = 7
SEED = 20240611
LINE_DEADLINE_S = 30.0


class CrashBatchEvent(Event, name="test.crash.Batch"):
    """The child's event (same name and fields as in ``procs/crash_appender.py``)."""

    batch: int
    index: int
    size: int


def batch_size(batch):
    return 3 + batch % 4


def parse_ack(line, acked):
    assert line.startswith("ack "), f"the child reported: {line!r}"
    _, batch, first, last = line.split()
    acked[int(batch)] = (int(first), int(last))


def run_round(path, first_batch, kill_after, stderr_path, *, mid_write=False):
    """Start a child, read ``kill_after`` acks, SIGKILL it; return every ack it printed.

    With ``mid_write``, the kill waits for the next change of the WAL file, so it lands
    while a transaction is being written rather than just after an ack.
    """
    acked = {}
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(HELPER), str(path), str(first_batch), str(TASKS)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=0,
        )
        try:
            reader = LineReader(proc.stdout)
            deadline = time.monotonic() + LINE_DEADLINE_S
            while len(acked) < kill_after:
                line = reader.next_line(deadline)
                assert line is not None, (
                    f"the child exited early (rc {proc.poll()}): {stderr_path.read_text()}"
                )
                parse_ack(line, acked)
            if mid_write:
                wait_for_wal_write(path, deadline)
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL, "the child died before the kill"
            # Acks already in the pipe were printed after their append returned: they count.
            while (line := reader.next_line(time.monotonic() + 10)) is not None:
                parse_ack(line, acked)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            proc.stdout.close()
    return acked


async def inspect(path):
    async with AsyncEventStore.open(path, durability="full") as store:
        report = await store.verify()
        records = [record async for record in store.read_all(0)]
    return report, records


async def last_position(path):
    async with AsyncEventStore.open(path, durability="full") as store:
        return await store.last_position()


def check_log(report, records, acked, previous):
    """Assert the reopened log is sound, holds every acked batch, and only whole batches."""
    assert report.ok, str(report)
    assert report.records == len(records)
    assert [r.position for r in records] == list(range(1, len(records) + 1))
    # What an earlier round found is still there, unchanged.
    assert [(r.position, r.event_id) for r in records[: len(previous)]] == [
        (r.position, r.event_id) for r in previous
    ]

    by_batch = defaultdict(list)
    versions = defaultdict(list)
    for record in records:
        assert isinstance(record.data, CrashBatchEvent)
        by_batch[record.data.batch].append(record)
        versions[record.stream_id].append(record.stream_version)
    for stream, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"stream {stream} versions {seen}"

    # Only whole batches: each batch present is all its events, contiguous, in one stream.
    for batch, batch_records in by_batch.items():
        size = batch_size(batch)
        indices = [r.data.index for r in batch_records]
        assert indices == list(range(size)), f"batch {batch} is torn"
        assert {r.data.size for r in batch_records} == {size}
        first = batch_records[0].position
        assert [r.position for r in batch_records] == list(range(first, first + size))
        assert {r.stream_id for r in batch_records} == {f"s{batch % STREAMS}"}

    # Every acknowledged batch is present, whole, at the positions it was acked with.
    lost = sorted(set(acked) - set(by_batch))
    assert lost == [], f"acknowledged batches lost: {lost}"
    for batch, (first, last) in acked.items():
        batch_records = by_batch[batch]
        assert (batch_records[0].position, batch_records[-1].position) == (first, last)
    return by_batch


def test_sigkilled_writer_loses_no_acknowledged_batch_and_tears_none(tmp_path):
    """Every batch acked before a SIGKILL survives whole, and no batch is ever partly written."""
    path = tmp_path / "crash.db"
    rng = random.Random(SEED)
    all_acked = {}
    records = []
    next_batch = 0
    for round_no in range(ROUNDS):
        kill_after = rng.randint(5, 60)
        acked = run_round(
            path,
            next_batch,
            kill_after,
            tmp_path / f"stderr-{round_no}.txt",
            mid_write=round_no % 2 == 1,
        )
        assert len(acked) >= kill_after
        assert min(acked) >= next_batch
        all_acked.update(acked)

        report, now = asyncio.run(inspect(path))
        by_batch = check_log(report, now, all_acked, records)
        records = now
        next_batch = max(by_batch) + 1

    assert len(all_acked) >= ROUNDS * 5
    # The concurrent tasks really were group-committed: some transaction (one recorded_at)
    # carried more than one batch, so kills also landed on multi-batch commits.
    batches_per_commit = defaultdict(set)
    for record in records:
        batches_per_commit[record.recorded_at].add(record.data.batch)
    assert max(len(batches) for batches in batches_per_commit.values()) > 1


class Drainer:
    """Drains a child's stdout on a thread, so the child never blocks on a full pipe."""

    def __init__(self, stream):
        self._lines = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream):
        for raw in stream:
            self._lines.put(raw.decode().rstrip("\n"))
        self._lines.put(None)

    def next_line(self, deadline):
        """The next line, or None at end of file; TimeoutError past ``deadline``."""
        try:
            return self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("no line from the child before the deadline") from None

    def join(self):
        """Wait for the pump to reach end of file (the child must be gone)."""
        self._thread.join(timeout=10)


def test_killed_writer_neither_stalls_nor_breaks_another_process_writing_the_same_file(tmp_path):
    """While writers beside it are SIGKILLed mid-stream, another process keeps appending cleanly."""
    path = tmp_path / "shared-crash.db"
    rng = random.Random(SEED + 1)
    survivor_stderr = tmp_path / "survivor.stderr"
    acked = {}
    with survivor_stderr.open("wb") as stderr:
        survivor = subprocess.Popen(
            [sys.executable, str(HELPER), str(path), "0", str(SURVIVOR_TASKS)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    lines = Drainer(survivor.stdout)
    try:

        def survivor_acks_past(position):
            """Read the survivor's acks until one lies past ``position``."""
            deadline = time.monotonic() + LINE_DEADLINE_S
            while True:
                line = lines.next_line(deadline)
                assert line is not None, f"the survivor exited: {survivor_stderr.read_text()}"
                parse_ack(line, acked)
                _, first, _ = line.split()[1:]
                if int(first) > position:
                    return

        survivor_acks_past(0)  # it has created the file and is appending
        for round_no in range(5):
            # Victims number their batches in their own range, far from the survivor's.
            first = 100_000 * (round_no + 1)
            victim_acks = run_round(
                path,
                first,
                rng.randint(5, 40),
                tmp_path / f"victim-{round_no}.stderr",
                mid_write=round_no % 2 == 1,
            )
            acked.update(victim_acks)
            # The survivor still gets appends through after the victim died: one lands
            # past everything that was in the log once the victim was dead.
            survivor_acks_past(asyncio.run(last_position(path)))
        os.kill(survivor.pid, signal.SIGKILL)
        assert survivor.wait(timeout=10) == -signal.SIGKILL, "the survivor died by itself"
        while (line := lines.next_line(time.monotonic() + 10)) is not None:
            parse_ack(line, acked)
    finally:
        if survivor.poll() is None:
            survivor.kill()
            survivor.wait(timeout=10)
        lines.join()
        survivor.stdout.close()
    stderr_text = survivor_stderr.read_text()
    assert "locked" not in stderr_text, stderr_text[-3000:]
    assert "Traceback" not in stderr_text, stderr_text[-3000:]

    report, records = asyncio.run(inspect(path))
    by_batch = check_log(report, records, acked, [])
    assert any(batch < 100_000 for batch in by_batch)
    assert {batch // 100_000 for batch in by_batch} == set(range(6))
