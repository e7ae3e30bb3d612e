"""Soak benchmark: mixed work on one log in one process for minutes, watching what leaks.

Run it from the repository root::

    python bench/soak_bench.py                  # 10 minutes, a sample every 10 s
    python bench/soak_bench.py --minutes 2 --every 5
    python bench/soak_bench.py --dir /dev/shm   # the log on tmpfs: more rounds a minute

Why: a worker runs for days. A handle, a thread or a buffer kept per order, per job, per
pipeline run or per history read costs nothing in a test that runs for a second, and
takes the worker down after a week. This runs the built-in workflows without pause in one
process on one log: each round places orders (some services failing, so some are undone)
and submits two jobs (one custom, one default, so the search index is written), every
fifth round runs the two-phase data pipeline, and every round reads history back beside
the runtime (a timeline of an order; every 30 s a what-if replay of the whole log). A
thread samples the process every ``--every`` seconds: resident memory (``VmRSS`` of
/proc/self/status), open file descriptors (/proc/self/fd) and threads (both
``threading.active_count()`` and /proc/self/task, which also counts SQLite's and
loguru's native ones).

The verdict compares the samples after a warm-up (the first fifth of the run: caches,
pools and SQLite's page cache fill there) in thirds: the mean of the last third against
the mean of the first. "flat after warm-up" when memory grew less than 10 % and the
descriptors and threads by at most 2 (a round that happens to be mid-flight when a
sample is taken holds a few); otherwise it says which grew and by how much. Each
round's log grows, and the what-if replay reads all of it, so some growth of memory in
that replay is expected; the figure says whether it stays in proportion. It asserts
nothing: it prints the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _common import print_machine, scratch

from sagalog.actors import Ledger, Runtime
from sagalog.sagas.catalog import DEFINITIONS, RUN_STATUS_HOOKS, definition_of_run
from sagalog.sagas.history import read_timeline, what_if
from sagalog.sagas.jobs import add_jobs_workflow, load_jobs_config, submit_job
from sagalog.sagas.orders import FailurePlan, add_order_workflow, place_order, wait_for_terminals
from sagalog.sagas.pipeline import add_pipeline_workflow, run_data_pipeline
from sagalog.sagas.showcase import prepare_showcase
from sagalog.store import open_store

WARMUP_SHARE = 0.2
"""The first fifth of the samples is warm-up, left out of the verdict."""
RSS_TOLERANCE = 0.10
"""Memory growth (last third against first third) still called flat."""
COUNT_TOLERANCE = 2
"""Descriptors or threads more, last third against first, still called flat."""
WHAT_IF_EVERY = 30.0
"""Seconds between what-if replays of the whole log (it reads every record)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """The process at one moment."""

    seconds: float
    rss_kib: int
    fds: int
    threads_python: int
    threads_os: int
    records: int
    rounds: int


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _count(folder: str) -> int:
    return sum(1 for _ in Path(folder).iterdir())


class Sampler(threading.Thread):
    """Samples the process every ``every`` seconds until stopped."""

    def __init__(self, every: float, records: Callable[[], int],
                 rounds: Callable[[], int]) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.every = every
        self.samples: list[Sample] = []
        self._records = records
        self._rounds = rounds
        self._stopping = threading.Event()
        self._began = time.monotonic()

    def sample(self) -> None:
        self.samples.append(Sample(
            time.monotonic() - self._began, _rss_kib(), _count("/proc/self/fd"),
            threading.active_count(), _count("/proc/self/task"), self._records(),
            self._rounds()))

    def run(self) -> None:
        self.sample()
        while not self._stopping.wait(self.every):
            self.sample()

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        self.sample()


class Soak:
    """The mixed work: orders, jobs, pipeline runs and history reads, round after round."""

    def __init__(self, folder: Path, orders_per_round: int) -> None:
        self.db = str(folder / "soak.db")
        self.showcase = prepare_showcase(self.db)
        self.jobs_config = load_jobs_config(self.showcase.jobs_config, self.db)
        self.jobs = [json.loads(path.read_text(encoding="utf-8"))
                     for path in self.showcase.job_files]
        self.jobs = [job for job in self.jobs if isinstance(job, dict) and "job_id" in job]
        self.orders_per_round = orders_per_round
        self.rounds = 0
        self.counts = {"orders": 0, "jobs": 0, "pipelines": 0, "timelines": 0, "what_ifs": 0}
        self._last_what_if = time.monotonic()

    def round(self, runtime: Runtime) -> None:
        """One round of every kind of work."""
        self.rounds += 1
        start = runtime.store.last_position()
        ids = {f"soak{self.rounds}-{n}" for n in range(self.orders_per_round)}
        plan = FailurePlan(rate=0.1, seed=self.rounds)
        for order_id in sorted(ids):
            place_order(runtime, order_id, plan=plan)
        for job in self.jobs:
            raw = json.dumps({**job, "job_id": f"{job['job_id']}-{self.rounds}"})
            submit_job(runtime.store, raw, "soak", self.jobs_config)
        wait_for_terminals(runtime, ids, start + 1, timeout=120.0)
        runtime.wait_until_idle(timeout=120.0)
        self.counts["orders"] += len(ids)
        self.counts["jobs"] += len(self.jobs)
        if self.rounds % 5 == 1:
            run_data_pipeline(runtime, self.showcase.pipeline_config, timeout=300.0)
            self.counts["pipelines"] += 1
        self._read_history(min(ids))

    def _read_history(self, order_id: str) -> None:
        with open_store(self.db, read_only=True, run_status=RUN_STATUS_HOOKS) as log:
            read_timeline(log, order_id)
            self.counts["timelines"] += 1
            if time.monotonic() - self._last_what_if >= WHAT_IF_EVERY:
                what_if(log, DEFINITIONS, configure=definition_of_run)
                self.counts["what_ifs"] += 1
                self._last_what_if = time.monotonic()


def _mean(samples: list[Sample], field: str) -> float:
    return statistics.fmean(getattr(sample, field) for sample in samples)


def verdict(samples: list[Sample]) -> str:
    """Flat after warm-up, or what grew: the last third of the samples against the first."""
    measured = samples[int(len(samples) * WARMUP_SHARE):]
    third = len(measured) // 3
    if third < 1:
        return "too few samples for a verdict (run longer, or sample more often)"
    first, last = measured[:third], measured[-third:]
    rss_first, rss_last = _mean(first, "rss_kib"), _mean(last, "rss_kib")
    growth = (rss_last - rss_first) / rss_first
    lines = [(f"after a warm-up of {measured[0].seconds:.0f} s, last third against first "
              f"({len(first)} samples each):"),
             (f"  RSS      {rss_first / 1024:8.1f} MiB -> {rss_last / 1024:8.1f} MiB "
              f"({growth:+.1%})")]
    grew = [] if growth < RSS_TOLERANCE else [f"RSS {growth:+.1%}"]
    for field, label in (("fds", "fds"), ("threads_python", "threads (py)"),
                         ("threads_os", "threads (OS)")):
        before, after = _mean(first, field), _mean(last, field)
        lines.append(f"  {label:<13}{before:8.1f} -> {after:8.1f} ({after - before:+.1f})")
        if after - before > COUNT_TOLERANCE:
            grew.append(f"{label} {after - before:+.1f}")
    records_first, records_last = _mean(first, "records"), _mean(last, "records")
    lines.append(f"  log          {records_first:8.0f} -> {records_last:8.0f} records")
    lines.append("verdict: flat after warm-up" if not grew
                 else f"verdict: NOT flat after warm-up: {', '.join(grew)}")
    return "\n".join(lines)


def table(samples: list[Sample]) -> str:
    """One line a sample."""
    lines = [(f"{'t (s)':>7} {'rounds':>7} {'records':>9} {'RSS MiB':>9} {'fds':>5} "
              f"{'thr py':>7} {'thr OS':>7}")]
    lines.extend(f"{s.seconds:7.0f} {s.rounds:7d} {s.records:9d} {s.rss_kib / 1024:9.1f} "
                 f"{s.fds:5d} {s.threads_python:7d} {s.threads_os:7d}" for s in samples)
    return "\n".join(lines)


def main() -> None:
    flags = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    flags.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    flags.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    flags.add_argument("--orders", type=int, default=20, help="orders a round (default 20)")
    flags.add_argument("--dir", default=None, help="where the log goes (default: a temp dir)")
    arguments = flags.parse_args()
    print_machine("sagalog soak benchmark", ["bench/soak_bench.py", *sys.argv[1:]], arguments.dir,
                  ["pykka", "pydantic", "aiosqlite", "loguru"])
    with scratch(arguments.dir) as folder:
        soak = Soak(folder, arguments.orders)
        with Ledger(f"{soak.db}.ledger") as ledger, Runtime(soak.db) as runtime:
            add_order_workflow(runtime, ledger)
            add_jobs_workflow(runtime)
            add_pipeline_workflow(runtime)
            sampler = Sampler(arguments.every, runtime.store.last_position, lambda: soak.rounds)
            sampler.start()
            deadline = time.monotonic() + arguments.minutes * 60
            while time.monotonic() < deadline:
                soak.round(runtime)
            sampler.stop()
    samples = sampler.samples
    elapsed = samples[-1].seconds
    print(f"\nsoak: {elapsed:.0f} s, {soak.rounds} rounds: "
          + ", ".join(f"{count} {what}" for what, count in soak.counts.items()))
    print(f"({soak.rounds / elapsed * 60:.1f} rounds/min, "
          f"{samples[-1].records / elapsed:.0f} records/s on average)\n")
    print(table(samples))
    print()
    print(verdict(samples))


if __name__ == "__main__":
    main()
