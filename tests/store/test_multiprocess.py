"""Several processes on one SQLite file: concurrent appends, optimistic concurrency, live
subscriptions across processes, and concurrent creation of a new file.

Every child is a real process running a helper script from ``procs/``; the parent talks
to it over stdin/stdout lines and waits on those lines, or on its own subscription, with
a deadline, never on a sleep.
"""

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from uuid import UUID

import pytest

from sagalog.events import Event
from sagalog.store import ANY, AsyncEventStore, open_store
from tests.support import LineReader

pytestmark = pytest.mark.slow

PROCS = Path(__file__).parent / "procs"
DEADLINE_S = 60.0
LIVE_DEADLINE_S = 20.0


class MpEvent(Event, name="test.mp.Appended"):
    """The appenders' event (same name and fields as in ``procs/mp_appender.py``)."""

    proc: int
    job: int
    index: int


class LiveEvent(Event, name="test.mp.Live"):
    """The live appender's event (same as in ``procs/sub_appender.py``)."""

    seq: int




class Child:
    """A helper script in a real process, with line-based stdin/stdout and stderr to a file."""

    def __init__(self, tmp_path, name, script, *args):
        self.stderr_path = tmp_path / f"{name}.stderr"
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(PROCS / script), *map(str, args)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                bufsize=0,
            )
        self.lines = LineReader(self.proc.stdout)

    def expect(self, prefix, deadline):
        """The next stdout line, which must start with ``prefix``."""
        line = self.lines.next_line(deadline)
        assert (line or "").startswith(prefix), (
            f"expected {prefix!r}, got {line!r} (rc {self.proc.poll()}); "
            f"stderr: {self.stderr_path.read_text()[-3000:]}"
        )
        return line

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")

    def finish(self, timeout=DEADLINE_S):
        """Close stdin, wait for the exit; return (returncode, stderr text)."""
        self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout)
        self.proc.stdout.close()
        return code, self.stderr_path.read_text()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if not pipe.closed:
                pipe.close()


def create_store(path):
    with open_store(path) as store:
        assert store.last_position() == 0


def run_appenders(tmp_path, path, count, *mode_args):
    """Run ``count`` mp_appender children at once on ``path``; return their reports."""
    children = [
        Child(tmp_path, f"appender-{p}", "mp_appender.py", path, p, *mode_args)
        for p in range(count)
    ]
    try:
        deadline = time.monotonic() + DEADLINE_S
        for child in children:
            child.expect("ready", deadline)
        for child in children:  # all are open and waiting: start them together
            child.send("go")
        reports = []
        for p, child in enumerate(children):
            report = json.loads(child.expect("done ", deadline)[len("done ") :])
            code, stderr = child.finish()
            errors = report["errors"]
            assert len(errors) == 0, f"child {p}: {len(errors)} failures, first:\n{errors[0]}"
            assert code == 0, f"child {p} exited {code}: {stderr[-3000:]}"
            assert "locked" not in stderr, stderr[-3000:]
            assert "Traceback" not in stderr, stderr[-3000:]
            reports.append(report)
        return reports
    finally:
        for child in children:
            child.kill()


def check_acks_against_log(reports, records, proc_count):
    """Each append a child was answered for is in the log where the answer said."""
    by_position = {r.position: r for r in records}
    for proc in range(proc_count):
        for job, stream, position, version, size in reports[proc]["acks"]:
            for index in range(size):
                record = by_position[position + index]
                assert (record.stream_id, record.stream_version) == (stream, version + index)
                assert (record.data.proc, record.data.job, record.data.index) == (proc, job, index)


def test_processes_appending_to_one_file_concurrently_all_succeed_gapless(tmp_path):
    """Four processes appending at once with ANY all succeed, and the log is exactly their sum."""
    path = tmp_path / "shared.db"
    create_store(path)
    procs, singles, bigs = 4, 300, 5
    reports = run_appenders(tmp_path, path, procs, "any", singles, bigs)

    per_proc = singles + bigs * 20
    total = procs * per_proc
    for report in reports:
        assert len(report["acks"]) == singles + bigs
        assert sum(ack[4] for ack in report["acks"]) == per_proc

    with open_store(path) as store:
        report = store.verify()
        records = list(store.read_all())
        shared_versions = [r.stream_version for r in store.read_stream("shared")]
    assert report.ok, str(report)
    assert report.records == total
    assert [r.position for r in records] == list(range(1, total + 1))
    keys = Counter((r.data.proc, r.data.job, r.data.index) for r in records)
    assert len(keys) == total
    assert max(keys.values()) == 1
    versions = defaultdict(list)
    for record in records:
        versions[record.stream_id].append(record.stream_version)
    for stream, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"stream {stream}"
    assert shared_versions == versions["shared"]
    assert {r.data.proc for r in records if r.stream_id == "shared"} == set(range(procs))
    check_acks_against_log(reports, records, procs)


def test_processes_with_exact_expected_versions_and_retries_build_one_gapless_stream(tmp_path):
    """Processes racing with exact expected versions and retrying conflicts end with 1..N."""
    path = tmp_path / "counter.db"
    create_store(path)
    procs, appends = 4, 60
    reports = run_appenders(tmp_path, path, procs, "exact", appends)

    per_proc = sum(1 + job % 2 for job in range(appends))
    total = procs * per_proc
    for report in reports:
        assert sorted(ack[0] for ack in report["acks"]) == list(range(appends))
    # Conflicts really happened (the retry path ran), and none of them leaked an error.
    assert sum(report["retries"] for report in reports) > 0

    with open_store(path) as store:
        report = store.verify()
        stream = list(store.read_stream("counter"))
        assert store.last_position() == total
    assert report.ok, str(report)
    assert [r.stream_version for r in stream] == list(range(1, total + 1))
    assert [r.position for r in stream] == list(range(1, total + 1))
    keys = Counter((r.data.proc, r.data.job, r.data.index) for r in stream)
    assert len(keys) == total
    assert max(keys.values()) == 1
    # An append's events are contiguous in the stream: one atomic write each.
    for proc in range(procs):
        for job, _, position, version, size in reports[proc]["acks"]:
            assert position == version  # the only stream in the file
            chunk = stream[version - 1 : version - 1 + size]
            assert [(r.data.proc, r.data.job, r.data.index) for r in chunk] == [
                (proc, job, i) for i in range(size)
            ]


async def collect(subscription, wanted, deadline, received):
    """Add records from ``subscription`` to ``received`` until it holds ``wanted``.

    Each wait is open-ended (``timeout=None``): the subscription itself must notice the
    other process's commits. Only the test's overall deadline bounds it.
    """
    loop = asyncio.get_running_loop()
    while len(received) < wanted:
        left = deadline - loop.time()
        try:
            batch = await asyncio.wait_for(subscription.next_batch(500, timeout=None), left)
        except TimeoutError:
            pytest.fail(f"only {len(received)} of {wanted} records arrived before the deadline")
        received.extend(batch)


def test_subscription_sees_another_process_appends_live_in_order_without_gaps(tmp_path):
    """A subscription follows another process's appends live: in order, no gap, no duplicate."""
    path = tmp_path / "live.db"
    count = 200

    async def scenario():
        async with AsyncEventStore.open(path, poll_interval=0.02) as store:
            before = [LiveEvent(seq=-i) for i in range(1, 4)]
            await store.append("before", before, expected_version=ANY)
            subscription = store.subscribe(from_position=0)
            received = []
            loop = asyncio.get_running_loop()
            await collect(subscription, 3, loop.time() + 10, received)
            assert await subscription.next_batch(500, timeout=0.0) == []  # caught up

            child = Child(tmp_path, "live-appender", "sub_appender.py", path, count)
            try:
                half = count // 2
                await collect(subscription, 3 + half, loop.time() + LIVE_DEADLINE_S, received)
                assert len(received) == 3 + half
                # The child has appended its first half and now waits for "more", still
                # alive: those records reached the subscription live, not after an exit.
                child.expect("half", time.monotonic() + DEADLINE_S)
                assert child.proc.poll() is None
                child.send("more")
                await collect(subscription, 3 + count, loop.time() + LIVE_DEADLINE_S, received)
                report = json.loads(child.expect("done ", time.monotonic() + DEADLINE_S)[5:])
                code, stderr = child.finish()
            finally:
                child.kill()
            assert report["errors"] == []
            assert code == 0, stderr[-3000:]
            assert await subscription.next_batch(500, timeout=0.1) == []  # nothing extra
            subscription.close()
            return received, report["written"]

    received, written = asyncio.run(scenario())
    assert [r.position for r in received] == list(range(1, 3 + count + 1))
    assert [r.data.seq for r in received[:3]] == [-1, -2, -3]
    live = received[3:]
    written.sort()
    assert [
        [r.position, str(r.event_id), r.stream_id, r.stream_version, r.data.seq] for r in live
    ] == written
    assert sorted(r.data.seq for r in live) == list(range(count))
    assert all(isinstance(r.event_id, UUID) for r in live)


def test_processes_creating_the_same_new_file_at_once_all_open_it(tmp_path):
    """Processes that open one not-yet-existing file at the same moment all succeed."""
    procs, rounds = 4, 40
    children = [Child(tmp_path, f"opener-{p}", "opener.py") for p in range(procs)]
    failures = []
    try:
        deadline = time.monotonic() + DEADLINE_S
        for child in children:
            child.expect("ready", deadline)
        for round_no in range(rounds):
            path = tmp_path / f"new-{round_no}.db"
            for child in children:
                child.send(f"open {path}")
            for p, child in enumerate(children):
                line = child.expect("", deadline)
                if line != "ok":
                    failures.append(f"round {round_no}, process {p}: {line}")
        for child in children:
            code, stderr = child.finish()
            assert code == 0, stderr[-3000:]
    finally:
        for child in children:
            child.kill()
    assert failures == [], f"{len(failures)} of {procs * rounds} opens failed:\n" + "\n".join(
        failures[:5]
    )
    for round_no in range(rounds):  # and every file is a sound, empty store
        with open_store(tmp_path / f"new-{round_no}.db") as store:
            assert store.verify().ok
            assert store.last_position() == 0
