"""History benchmark: the read-only commands on a log of 1,000,000 events, as users run them.

Run it from the repository root::

    python bench/history_bench.py                  # 1,000,000 events (built once, cached)
    python bench/history_bench.py --events 100000  # a smaller log, a smoke run
    python bench/history_bench.py --rebuild        # build the cached log again

Why: the replay issue promises that on a log of 1,000,000 events ``list`` and
``timeline`` answer in under 1 s, ``verify`` and ``export`` stream at least 100,000
events/s, and memory stays bounded. Those are promises about the command line, so each
figure is one ``python run.py ...`` in a child process, timed from start to exit (its
imports included), output to /dev/null, best of ``--repeat`` runs, with the child's
peak RSS (``os.wait4``).

The log: realistic means the mix of the real workflows, so the showcase (``python
run.py``: orders with failures and compensations, job routing, the two-phase data
pipeline, the master pipeline, ETL runs against a local HTTP server) runs once into a
template log of a few hundred records. Its records are then cloned, in log order, with
fresh ids until the log holds ``--events`` records: clone ``k`` prefixes every run id
(correlation id) with ``b<k>-`` wherever it appears (stream ids, payloads), gives each
record a fresh event id (an actor's output gets the id that actor derives from the new
cause, so ``timeline`` still recovers who wrote it), points causation ids and the
positions inside payloads (``trigger_position``, ``*_position``) at the clone's own
records, and keeps types and payload shapes. Shared streams (the job queues) stay shared
and grow. Everything is appended through ``SyncEventStore.append_all`` in batches of
about 10,000 records (durability off), so the hash chain is the store's own and
``verify`` passes. Times advance with a simulated clock, one template's duration per
clone. The built log is cached under ``--cache-dir`` keyed by its size and the schema.

Floors (from the issue): ``list`` and ``timeline`` under 1 s, ``verify`` and ``export``
at least 100,000 events/s, peak RSS of every command under 200 MB (bounded: a command
that held the log in memory would need gigabytes). ``explain`` and ``show`` have no
floor of their own; they are printed for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from _common import print_machine, scratch

import sagalog.sagas.catalog  # noqa: F401 - registers every workflow's message types
from sagalog.events import Envelope, Message, derived_event_id, encode, new_event_ids, registry
from sagalog.events import uuid_from_bytes as to_uuid
from sagalog.sagas.history import EXTERNAL, producers
from sagalog.store import SCHEMA_VERSION, AppendRequest, open_store

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "run.py"
RECIPE = 3
"""Bump when the way the log is built changes, so cached logs are rebuilt."""
BATCH_RECORDS = 10_000
SECOND_FLOOR = 1.0
RATE_FLOOR = 100_000.0
MEMORY_LIMIT_MB = 200.0
MB = 1024 * 1024


# -- the template: one showcase run ---------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How to clone one template record."""

    stream_id: str
    type: str
    version: int
    correlation_id: str | None
    event_id: UUID
    causation_id: UUID | None
    producer: tuple[str, int] | None
    """The (actor, index) its event id was derived with, or None for an external record."""
    text: str
    structured: bool
    """Whether the payload holds event ids or positions that must point into the clone."""


@dataclass(frozen=True)
class Template:
    recipes: list[Recipe]
    checkpoints: list[str]
    tokens: re.Pattern[str]
    span: timedelta


def make_template(directory: Path) -> Template:
    """Run the showcase into ``directory`` and read its log back as clone recipes."""
    path = directory / "template.db"
    started = time.perf_counter()
    subprocess.run([sys.executable, str(RUN_PY), "-q", "--db", str(path)], check=True,
                   cwd=directory, env=child_env(), stdout=subprocess.DEVNULL)
    print(f"  template: the showcase ran in {time.perf_counter() - started:.1f} s")
    with open_store(path) as store:
        records = list(store.read_all())
        actors = list(store.checkpoints())
    writers = producers(records, actors)
    known = {str(record.event_id) for record in records}
    correlations = {record.correlation_id for record in records if record.correlation_id}
    longest_first = sorted(correlations, key=len, reverse=True)
    tokens = re.compile("|".join(re.escape(token) for token in longest_first))
    recipes = [recipe(record, writer, known) for record, writer in zip(records, writers,
                                                                        strict=True)]
    span = records[-1].recorded_at - records[0].recorded_at
    print(f"  template: {len(records)} records, {len(correlations)} runs, "
          f"{sum(r.producer is not None for r in recipes)} derived ids, "
          f"{sum(r.structured for r in recipes)} payloads pointing at records")
    return Template(recipes, actors, tokens, span)


def recipe(record: Envelope[Message], writer: str, known: set[str]) -> Recipe:
    text = encode(record.data)
    producer = None
    cause = record.causation_id
    if cause is not None and writer != EXTERNAL:
        producer = next(((writer, index) for index in range(64)
                         if derived_event_id(cause, writer, index) == record.event_id), None)
    structured = '_position"' in text or any(event_id in text for event_id in known)
    return Recipe(record.stream_id, record.type, record.version, record.correlation_id,
                  record.event_id, cause, producer, text, structured)


# -- cloning ---------------------------------------------------------------------------------


class Clock:
    """The store's clock while building: moved by the builder, one template per clone."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def clone(template: Template, number: int, first_position: int, count: int
          ) -> list[AppendRequest]:
    """The first ``count`` records of clone ``number``, whose first record lands at
    ``first_position``."""
    prefix = f"b{number}-"
    recipes = template.recipes[:count]
    fresh = iter(new_event_ids(len(recipes)))
    ids: dict[UUID, UUID] = {}
    positions: dict[int, int] = {}
    requests = []
    for offset, old in enumerate(recipes):
        cause = None if old.causation_id is None else ids[old.causation_id]
        if old.producer is not None and cause is not None:
            event_id = derived_event_id(cause, *old.producer)
        else:
            event_id = to_uuid(next(fresh))
        ids[old.event_id] = event_id
        positions[offset + 1] = first_position + offset
        text = template.tokens.sub(lambda m: prefix + m.group(0), old.text)
        if old.structured:
            text = json.dumps(repoint(json.loads(text), ids, positions))
        message = registry.decode(old.type, old.version, text)
        stream = template.tokens.sub(lambda m: prefix + m.group(0), old.stream_id)
        correlation = None if old.correlation_id is None else prefix + old.correlation_id
        requests.append(AppendRequest(stream, [message], correlation_id=correlation,
                                      causation_id=cause, event_ids=[event_id]))
    return requests


_CITED = re.compile(r"(?<=\bat )\d+|(?<=\bpos )\d+")
"""A position a decision's reason cites ("InventoryFailed at 809", "unchanged since pos 77")."""


def repoint(value: Any, ids: dict[UUID, UUID], positions: dict[int, int],
            key: str = "") -> Any:
    """``value`` with template event ids and positions replaced by the clone's."""
    if isinstance(value, dict):
        return {k: repoint(v, ids, positions, k) for k, v in value.items()}
    if isinstance(value, list):
        return [repoint(v, ids, positions) for v in value]
    if isinstance(value, int) and key.endswith("_position"):
        return positions.get(value, value)
    if isinstance(value, str) and key == "reason":  # "... because PaymentFailed at 134"
        return _CITED.sub(lambda m: str(positions.get(int(m.group(0)), m.group(0))), value)
    if isinstance(value, str) and len(value) == 36:
        try:
            value = str(ids.get(UUID(value), value))
        except ValueError:
            pass
    return value


def build(path: Path, events: int, directory: Path) -> float:
    """Build a log of ``events`` records at ``path``; return the seconds it took."""
    template = make_template(directory)
    size = len(template.recipes)
    clones = -(-events // size)
    per_batch = max(1, BATCH_RECORDS // size)
    clock = Clock(datetime.now(UTC) - template.span * clones)
    started = time.perf_counter()
    with open_store(path, durability="off", clock=clock) as store:
        written = 0
        number = 0
        while written < events:
            requests: list[AppendRequest] = []
            for _ in range(per_batch):
                if written + len(requests) >= events:
                    break
                count = min(size, events - written - len(requests))
                number += 1
                requests += clone(template, number, written + len(requests) + 1, count)
            store.append_all(requests, want_records=False)
            written += len(requests)
            clock.now += template.span * per_batch
            if store.last_position() != written:
                raise RuntimeError("another writer appended to the log being built")
            if sys.stdout.isatty():
                rate = written / (time.perf_counter() - started)
                print(f"\r  built {written:,} of {events:,} records ({rate:,.0f}/s)", end="",
                      flush=True)
        # The actors' names, so timeline recovers writers. They stand at the end of the
        # last whole clone: a cut-off clone lacks the decisions on its last inputs, as if
        # they arrived while the actors were down (what-if counts them as not judged).
        whole = events - events % size
        for name in template.checkpoints:
            store.set_checkpoint(name, whole)
    if sys.stdout.isatty():
        print()
    return time.perf_counter() - started


def cached_log(events: int, cache_dir: Path, *, rebuild: bool) -> Path:
    """The log of ``events`` records, built (into a temporary name, then renamed) if needed."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"history-{events}-r{RECIPE}-s{SCHEMA_VERSION}.db"
    if path.exists() and not rebuild:
        print(f"  log: cached at {path}")
        return path
    with scratch(str(cache_dir)) as directory:
        partial = directory / "building.db"
        seconds = build(partial, events, directory)
        print(f"  log: built in {seconds:.1f} s ({events / seconds:,.0f} records/s)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.move(partial, path)
    return path


# -- measuring the commands ------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float


@dataclass(frozen=True)
class Figure:
    name: str
    command: list[str]
    runs: list[Run]
    floor: str
    passed: bool | None
    shown: str

    @property
    def best(self) -> float:
        return min(run.seconds for run in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(run.peak_mb for run in self.runs)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


_TIMER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps([code, seconds, peak]))
"""
"""Runs the command and reports its exit code, wall time and peak RSS (KB, Linux).

A separate small process, because Linux keeps a process's peak RSS across exec: a
child forked from this benchmark (which holds the template and the store) would report
this process's size, not the command's.
"""


def run_once(arguments: Sequence[str]) -> Run:
    """One ``python run.py ...`` to /dev/null: wall time and the child's own peak RSS."""
    command = [sys.executable, str(RUN_PY), "-q", *arguments]
    answer = subprocess.run([sys.executable, "-c", _TIMER, *command], cwd=ROOT,
                            env=child_env(), capture_output=True, text=True, check=True)
    code, seconds, peak_kb = json.loads(answer.stdout)
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} exited {code}: {answer.stderr.strip()}")
    return Run(seconds, peak_kb * 1024 / MB)


def measure(name: str, arguments: list[str], repeat: int, judge: Callable[[float], tuple[
        str, bool | None, str]]) -> Figure:
    runs = [run_once(arguments) for _ in range(repeat)]
    floor, passed, shown = judge(min(run.seconds for run in runs))
    figure = Figure(name, arguments, runs, floor, passed, shown)
    times = ", ".join(f"{run.seconds:.3f}" for run in runs)
    print(f"  {name:<18} {shown:>16}  (runs: {times} s; peak RSS {figure.peak_mb:.0f} MB)")
    return figure


def seconds_under(limit: float | None) -> Callable[[float], tuple[str, bool | None, str]]:
    def judge(best: float) -> tuple[str, bool | None, str]:
        if limit is None:
            return "-", None, f"{best:.3f} s"
        return f"< {limit:g} s", best < limit, f"{best:.3f} s"
    return judge


def rate_over(events: int, floor: float | None
              ) -> Callable[[float], tuple[str, bool | None, str]]:
    def judge(best: float) -> tuple[str, bool | None, str]:
        rate = events / best
        if floor is None:
            return "-", None, f"{rate:,.0f} ev/s"
        return f">= {floor:,.0f}/s", rate >= floor, f"{rate:,.0f} ev/s"
    return judge


def pick_targets(path: Path, events: int) -> tuple[str, int]:
    """A failed order in the middle of the log, and its last record's position."""
    with open_store(path) as store:
        failed = next(store.read_all(events // 2, types=["OrderFailed"]), None)
    if failed is None or failed.correlation_id is None:
        raise RuntimeError("no failed order in the second half of the log")
    return failed.correlation_id, failed.position


def measure_all(path: Path, events: int, repeat: int) -> list[Figure]:
    run_id, position = pick_targets(path, events)
    db = ["--db", str(path)]
    print(f"\n  targets: run {run_id} (a failed order), position {position}")
    plans: list[tuple[str, list[str], Callable[[float], tuple[str, bool | None, str]]]] = [
        ("start-up (--help)", ["--help"], seconds_under(None)),
        ("list", ["list", *db], seconds_under(SECOND_FLOOR)),
        ("list --limit 0", ["list", "--limit", "0", *db], seconds_under(SECOND_FLOOR)),
        ("timeline", ["timeline", run_id, *db], seconds_under(SECOND_FLOOR)),
        ("explain", ["explain", run_id, *db], seconds_under(None)),
        ("show", ["show", str(position), *db], seconds_under(None)),
        ("verify", ["verify", *db], rate_over(events, RATE_FLOOR)),
        ("export", ["export", *db], rate_over(events, RATE_FLOOR)),
    ]
    figures = [measure(name, arguments, repeat, judge) for name, arguments, judge in plans]
    # Whole-log folds, for reference (no floor; one run each, they take tens of seconds).
    # what-if exits 1 if the clones' decisions do not match the code: a check of the log too.
    figures += [
        measure("what-if", ["what-if", *db], 1, rate_over(events, None)),
        measure("at (middle)", ["at", str(events // 2), *db], 1, rate_over(events // 2, None)),
    ]
    return figures


def print_summary(figures: Sequence[Figure]) -> bool:
    print("\nsummary (best of each; peak RSS is the largest of the runs)")
    print(f"  {'command':<18} {'figure':>16} {'floor':>14} {'peak RSS':>9} {'limit':>8}  verdict")
    ok = True
    for figure in figures:
        memory_ok = figure.peak_mb < MEMORY_LIMIT_MB
        passed = memory_ok and figure.passed is not False
        ok = ok and passed
        verdict = "PASS" if passed else "FAIL"
        print(f"  {figure.name:<18} {figure.shown:>16} {figure.floor:>14} "
              f"{figure.peak_mb:>6.0f} MB {f'< {MEMORY_LIMIT_MB:.0f}':>8}  {verdict}")
    return ok


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min) on {os.cpu_count()} cpus"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="records in the log (default %(default)s)")
    parser.add_argument("--rebuild", action="store_true", help="build the cached log again")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (3)")
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir())
                                                   / "sagalog-bench-cache"),
                        help="where built logs are kept (default %(default)s)")
    parser.add_argument("--build-only", action="store_true", help="build the log, measure nothing")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any figure fails")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        print("--events and --repeat must be at least 1", file=sys.stderr)
        return 2
    print_machine("sagalog history benchmark", ["bench/history_bench.py", *argv],
                  args.cache_dir, ["pydantic", "aiosqlite", "pykka"])
    print(f"  load      {load()}")
    path = cached_log(args.events, Path(args.cache_dir), rebuild=args.rebuild)
    print(f"  log       {args.events:,} records, {path.stat().st_size / MB:,.0f} MB")
    if args.build_only:
        return 0
    figures = measure_all(path, args.events, args.repeat)
    ok = print_summary(figures)
    print(f"  load      {load()} (after)")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
