"""Event-store benchmark: sagalog's SqliteEventStore beside raw sqlite3, in one run.

Run it from the repository root::

    python bench/store_bench.py            # default sizes, a few minutes
    python bench/store_bench.py --quick    # small sizes, a smoke run of a few seconds
    python bench/store_bench.py --only read

Why: the store adds group commit, a hash chain, id generation, checks and typed decoding
on top of SQLite. A figure in events/s means little on its own (it moves with the disk,
the CPU and the SQLite build), so each one is printed beside raw sqlite3 doing the same
work on the same rows, on the same machine, in the same run, and judged by the ratio
ours / raw against the floors of the performance issue.

What "raw" is: the rows pre-shaped in memory (positions, stream ids and versions,
time-ordered event ids, one ``recorded_at`` string), inserted with the standard library's
sqlite3 into a table with the store's own schema (its events table and indexes, read
from a store-created file: no triggers, no checkpoints table), in WAL mode with the same
``synchronous`` setting. Raw pays for what any application would: ``model_dump_json()``
of each event and one SHA-256 of the JSON for the hash column. It does none of the
store's own work: no hash chain, no stream-version checks, no envelopes.

The figures:

appends      batched appends, 1,000 events per append, durability full: ``store.append``
             against ``executemany`` in transactions of 1,000, synchronous=FULL.
             Floor 0.7x raw, goal 0.9x.
concurrent   64 asyncio tasks each appending single events to its own stream (durability
             full, so group commit shares the fsyncs) against one connection committing
             each event in its own transaction, synchronous=FULL. Floor 2.5x, goal 5x.
read         ``read_all`` with typed decoding against one SELECT of the same rows from
             the same file plus ``model_validate_json`` per row. Floor 0.6x, goal 0.9x.
memory       RSS growth while reading 1,000,000 events end to end with ``read_all``, in
             a fresh child process. Limit: under 100 MB.

Each timed figure is run ``--repeat`` times, ours and raw interleaved, on fresh files;
the best rate of each side is compared (the least disturbed run of each).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
from _common import print_machine, scratch

from sagalog.events import Event, new_event_id
from sagalog.store import AsyncEventStore

MB = 1024 * 1024
BATCH = 1000
APPENDERS = 64
MEMORY_LIMIT_MB = 100.0
COLUMNS = (
    "position, stream_id, stream_version, event_id, type, version, recorded_at, "
    "correlation_id, causation_id, data, hash"
)
INSERT = f"INSERT INTO events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
SELECT_ALL = (
    "SELECT position, stream_id, stream_version, event_id, type, version, recorded_at, "
    "correlation_id, causation_id, data FROM events ORDER BY position"
)

FIGURES = ("appends", "concurrent", "read", "memory")


class BenchEvent(Event):
    """A small, typical payload: two ids and a short note (about 80 bytes of JSON)."""

    order_id: str
    amount_cents: int
    note: str


Row = tuple[int, str, int, bytes, str, int, str, None, None]
"""A pre-shaped raw row: every column but ``data`` and ``hash``."""


@dataclass(frozen=True)
class Sizes:
    """How much work each figure does."""

    append_events: int
    concurrent_events: int
    raw_commit_events: int
    decode_events: int
    memory_events: int
    repeat: int


@dataclass(frozen=True)
class Figure:
    """One line of the summary: ours, raw, and the floor the ratio is held to."""

    name: str
    unit: str
    ours: float
    raw: float | None
    floor: float
    goal: float | None

    @property
    def ratio(self) -> float | None:
        return None if self.raw is None else self.ours / self.raw

    @property
    def passed(self) -> bool:
        if self.ratio is None:  # a limit, lower is better
            return self.ours < self.floor
        return self.ratio >= self.floor

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "BELOW-FLOOR"


# -- inputs ------------------------------------------------------------------------------


def make_events(count: int) -> list[BenchEvent]:
    """The events both sides write; built before any timing (that is the caller's cost)."""
    return [
        BenchEvent(
            order_id=f"order-{index:08d}",
            amount_cents=(index * 7919) % 1_000_000,
            note=f"bench event {index} for the event store benchmark",
        )
        for index in range(count)
    ]


def shape_rows(streams: Sequence[tuple[str, int]]) -> list[Row]:
    """Raw rows for ``(stream_id, stream_version)`` pairs, in position order."""
    recorded_at = datetime.now(UTC).isoformat(timespec="microseconds")
    kind = BenchEvent.message_type
    version = BenchEvent.message_version
    return [
        (
            position,
            stream,
            stream_version,
            new_event_id().bytes,
            kind,
            version,
            recorded_at,
            None,
            None,
        )
        for position, (stream, stream_version) in enumerate(streams, start=1)
    ]


def batched_streams(count: int, batch: int) -> list[tuple[str, int]]:
    """Append ``i`` of ``batch`` events goes to stream ``batch-i``, versions 1..batch."""
    return [(f"batch-{index // batch}", index % batch + 1) for index in range(count)]


def appender_streams(count: int, appenders: int) -> list[tuple[str, int]]:
    """Round-robin over ``appenders`` streams, as the concurrent appenders interleave."""
    return [(f"appender-{index % appenders}", index // appenders + 1) for index in range(count)]


def full_row(shape: Row, event: BenchEvent) -> tuple[object, ...]:
    """A raw row completed in the timed loop: the JSON, and a plain (unchained) SHA-256."""
    data = event.model_dump_json()
    return (*shape, data, hashlib.sha256(data.encode()).digest())


# -- files -------------------------------------------------------------------------------


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def store_schema(directory: Path) -> list[str]:
    """The CREATE statements of the store's events table and indexes, as SQLite has them."""
    path = directory / "schema.db"

    async def create() -> None:
        async with AsyncEventStore.open(path, durability="off"):
            pass

    asyncio.run(create())
    with sqlite3.connect(path) as connection:
        statements = [
            row[0]
            for row in connection.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'events' "
                "AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type DESC"
            )
        ]
    connection.close()
    remove_db(path)
    return statements


def raw_connect(path: Path, synchronous: str, schema: Sequence[str]) -> sqlite3.Connection:
    """A plain sqlite3 connection in autocommit mode, WAL, with the events schema."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    for statement in schema:
        connection.execute(statement)
    return connection


async def build_store(path: Path, events: Sequence[BenchEvent], batch: int = BATCH) -> None:
    """Fill a store with ``events`` through ``store.append`` (durability off)."""
    async with AsyncEventStore.open(path, durability="off") as store:
        for number, start in enumerate(range(0, len(events), batch)):
            await store.append(f"batch-{number}", events[start : start + batch])


# -- figure 1: batched appends -----------------------------------------------------------


async def ours_batched(path: Path, events: Sequence[BenchEvent]) -> float:
    async with AsyncEventStore.open(path, durability="full") as store:
        started = time.perf_counter()
        for number, start in enumerate(range(0, len(events), BATCH)):
            await store.append(f"batch-{number}", events[start : start + BATCH])
        elapsed = time.perf_counter() - started
        expect_count(await store.last_position(), len(events))
    return len(events) / elapsed


def raw_batched(
    path: Path, events: Sequence[BenchEvent], shapes: Sequence[Row], schema: Sequence[str]
) -> float:
    connection = raw_connect(path, "FULL", schema)
    started = time.perf_counter()
    for start in range(0, len(events), BATCH):
        rows = [
            full_row(shape, event)
            for shape, event in zip(
                shapes[start : start + BATCH], events[start : start + BATCH], strict=True
            )
        ]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(INSERT, rows)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return len(events) / elapsed


def figure_appends(sizes: Sizes, directory: Path, schema: Sequence[str]) -> Figure:
    count = sizes.append_events
    events = make_events(count)
    shapes = shape_rows(batched_streams(count, BATCH))
    print(f"\n[appends] {count:,} events, {BATCH:,} per append, durability full")
    print("  raw: executemany per 1,000, timing includes model_dump_json and a SHA-256 per row")
    ours, raw = interleave(
        sizes.repeat,
        on_fresh_file(directory, "ours", lambda path: asyncio.run(ours_batched(path, events))),
        on_fresh_file(directory, "raw", lambda path: raw_batched(path, events, shapes, schema)),
    )
    return report("appends", "events/s", ours, raw, floor=0.7, goal=0.9)


# -- figure 2: concurrent single-event appenders -----------------------------------------


async def ours_concurrent(path: Path, events: Sequence[BenchEvent]) -> float:
    per_task = len(events) // APPENDERS
    async with AsyncEventStore.open(path, durability="full") as store:

        async def appender(number: int) -> None:
            stream = f"appender-{number}"
            for event in events[number * per_task : (number + 1) * per_task]:
                await store.append(stream, [event])

        started = time.perf_counter()
        await asyncio.gather(*(appender(number) for number in range(APPENDERS)))
        elapsed = time.perf_counter() - started
        expect_count(await store.last_position(), per_task * APPENDERS)
    return per_task * APPENDERS / elapsed


def raw_per_event_commit(
    path: Path, events: Sequence[BenchEvent], shapes: Sequence[Row], schema: Sequence[str]
) -> float:
    connection = raw_connect(path, "FULL", schema)
    started = time.perf_counter()
    for shape, event in zip(shapes, events, strict=True):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(INSERT, full_row(shape, event))
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return len(events) / elapsed


def figure_concurrent(sizes: Sizes, directory: Path, schema: Sequence[str]) -> Figure:
    per_task = max(1, sizes.concurrent_events // APPENDERS)
    ours_events = make_events(per_task * APPENDERS)
    raw_events = make_events(sizes.raw_commit_events)
    shapes = shape_rows(appender_streams(sizes.raw_commit_events, APPENDERS))
    print(
        f"\n[concurrent] ours: {APPENDERS} tasks x {per_task:,} single-event appends "
        f"({len(ours_events):,} events); raw: {len(raw_events):,} commits of one event; "
        "durability full"
    )
    ours, raw = interleave(
        sizes.repeat,
        on_fresh_file(
            directory, "ours", lambda path: asyncio.run(ours_concurrent(path, ours_events))
        ),
        on_fresh_file(
            directory, "raw", lambda path: raw_per_event_commit(path, raw_events, shapes, schema)
        ),
    )
    return report("concurrent", "events/s", ours, raw, floor=2.5, goal=5.0)


# -- figure 3: read_all with typed decoding ----------------------------------------------


async def ours_read(path: Path, count: int) -> float:
    async with AsyncEventStore.open(path, durability="full") as store:
        seen = 0
        started = time.perf_counter()
        async for _ in store.read_all():
            seen += 1
        elapsed = time.perf_counter() - started
    expect_count(seen, count)
    return count / elapsed


def raw_read(path: Path, count: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    validate = BenchEvent.model_validate_json
    seen = 0
    started = time.perf_counter()
    for row in connection.execute(SELECT_ALL):
        validate(row[9])
        seen += 1
    elapsed = time.perf_counter() - started
    connection.close()
    expect_count(seen, count)
    return count / elapsed


def figure_read(sizes: Sizes, directory: Path) -> Figure:
    count = sizes.decode_events
    path = directory / "read.db"
    print(f"\n[read] {count:,} events, read_all with typed decoding; one file for both sides")
    built = timed(lambda: asyncio.run(build_store(path, make_events(count))))
    print(f"  built with store.append (durability off) in {built:.1f} s")
    raw_read(path, count)  # warm the page cache, untimed
    ours, raw = interleave(
        sizes.repeat,
        lambda: asyncio.run(ours_read(path, count)),
        lambda: raw_read(path, count),
    )
    remove_db(path)
    return report("read", "events/s", ours, raw, floor=0.6, goal=0.9)


# -- figure 4: memory while reading everything -------------------------------------------


def rss() -> int:
    return psutil.Process().memory_info().rss


def peak_rss() -> int:
    """This address space's peak RSS (Linux ``VmHWM``), in bytes; 0 where unknown.

    Not ``getrusage().ru_maxrss``: Linux carries that across fork and exec, so a child
    would report the parent's peak (here, building the million-event file).
    """
    status = Path("/proc/self/status")
    if not status.exists():
        return 0
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


async def child_read_memory(path: str) -> dict[str, float]:
    """In a fresh process: RSS before, and the peak while, reading the whole log."""
    async with AsyncEventStore.open(path, durability="off") as store:
        await store.last_position()  # the reader connection is up before the baseline
        before = rss()
        peak = before
        seen = 0
        started = time.perf_counter()
        async for _ in store.read_all():
            seen += 1
            if seen % 1000 == 0:
                peak = max(peak, rss())
        elapsed = time.perf_counter() - started
        peak = max(peak, rss(), peak_rss())
    return {
        "events": seen,
        "before_mb": before / MB,
        "peak_mb": peak / MB,
        "seconds": elapsed,
    }


def figure_memory(sizes: Sizes, directory: Path) -> Figure:
    count = sizes.memory_events
    path = directory / "memory.db"
    print(f"\n[memory] RSS growth reading {count:,} events with read_all, in a child process")
    built = build_in_chunks(path, count)
    note = "  (over the 2-minute budget)" if built > 120 else ""
    print(f"  built with store.append (durability off) in {built:.1f} s{note}")
    output = subprocess.run(
        [sys.executable, __file__, "--child-read-memory", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    remove_db(path)
    expect_count(result["events"], count)
    growth = result["peak_mb"] - result["before_mb"]
    print(
        f"  RSS {result['before_mb']:.1f} MB before, {result['peak_mb']:.1f} MB peak: "
        f"+{growth:.1f} MB; read at {count / result['seconds']:,.0f} events/s"
    )
    return Figure("memory", "MB growth", growth, None, MEMORY_LIMIT_MB, None)


def build_in_chunks(path: Path, count: int, chunk: int = 100_000) -> float:
    """Build a large store without holding every event object in memory at once."""

    async def build() -> None:
        async with AsyncEventStore.open(path, durability="off") as store:
            for first in range(0, count, chunk):
                events = make_events(min(chunk, count - first))
                for start in range(0, len(events), BATCH):
                    number = (first + start) // BATCH
                    await store.append(f"batch-{number}", events[start : start + BATCH])

    return timed(lambda: asyncio.run(build()))


# -- running and reporting ---------------------------------------------------------------


def expect_count(seen: int, expected: int) -> None:
    """Refuse a figure computed over the wrong number of events."""
    if seen != expected:
        raise RuntimeError(f"the run saw {seen:,} events, not {expected:,}")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def on_fresh_file(
    directory: Path, name: str, action: Callable[[Path], float]
) -> Callable[[], float]:
    """``action`` run on a new database file each time, the file removed afterwards."""
    runs = itertools.count()

    def run() -> float:
        path = directory / f"{name}-{next(runs)}.db"
        try:
            return action(path)
        finally:
            remove_db(path)

    return run


def interleave(
    repeat: int, ours: Callable[[], float], raw: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run ours then raw, ``repeat`` times; the rates of each side, in run order."""
    ours_rates: list[float] = []
    raw_rates: list[float] = []
    for _ in range(repeat):
        ours_rates.append(ours())
        raw_rates.append(raw())
    return ours_rates, raw_rates


def report(
    name: str, unit: str, ours: list[float], raw: list[float], *, floor: float, goal: float
) -> Figure:
    for side, rates in (("ours", ours), ("raw", raw)):
        runs = ", ".join(f"{rate:,.0f}" for rate in rates)
        print(f"  {side:<4} best {max(rates):>10,.0f} {unit}   (runs: {runs})")
    figure = Figure(name, unit, max(ours), max(raw), floor, goal)
    print(f"  ratio {figure.ratio:.2f}x (floor {floor}x, goal {goal}x): {figure.verdict}")
    return figure


def print_summary(figures: Sequence[Figure]) -> None:
    print("\nsummary")
    header = f"  {'figure':<11} {'ours':>12} {'raw':>12} {'unit':<10} {'ratio':>6} {'floor':>8} "
    print(f"{header}{'goal':>6}  verdict")
    for figure in figures:
        raw = "-" if figure.raw is None else f"{figure.raw:,.0f}"
        ratio = "-" if figure.ratio is None else f"{figure.ratio:.2f}x"
        floor = f"<{figure.floor:.0f} MB" if figure.ratio is None else f"{figure.floor}x"
        goal = "-" if figure.goal is None else f"{figure.goal}x"
        ours = f"{figure.ours:,.1f}" if figure.ratio is None else f"{figure.ours:,.0f}"
        print(
            f"  {figure.name:<11} {ours:>12} {raw:>12} {figure.unit:<10} {ratio:>6} "
            f"{floor:>8} {goal:>6}  {figure.verdict}"
        )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--only", choices=FIGURES, help="run one figure")
    parser.add_argument("--events", type=int, help="events for 'appends' (default 100,000)")
    parser.add_argument(
        "--concurrent-events", type=int, help="events for ours in 'concurrent' (default 20,000)"
    )
    parser.add_argument(
        "--raw-commit-events", type=int, help="events for raw in 'concurrent' (default 3,000)"
    )
    parser.add_argument("--decode-events", type=int, help="events for 'read' (default 200,000)")
    parser.add_argument("--read-events", type=int, help="events for 'memory' (default 1,000,000)")
    parser.add_argument("--repeat", type=int, help="runs per side of each timed figure (3)")
    parser.add_argument("--tmpdir", help="where the database files go (default: the system's)")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 if any figure is below its floor"
    )
    parser.add_argument("--child-read-memory", metavar="PATH", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    if args.quick:
        defaults = Sizes(5_000, 1_280, 300, 5_000, 20_000, 1)
    else:
        defaults = Sizes(100_000, 20_000, 3_000, 200_000, 1_000_000, 3)
    return Sizes(
        append_events=args.events or defaults.append_events,
        concurrent_events=args.concurrent_events or defaults.concurrent_events,
        raw_commit_events=args.raw_commit_events or defaults.raw_commit_events,
        decode_events=args.decode_events or defaults.decode_events,
        memory_events=args.read_events or defaults.memory_events,
        repeat=args.repeat or defaults.repeat,
    )


def run(args: argparse.Namespace, argv: Sequence[str]) -> list[Figure]:
    sizes = sizes_from(args)
    print_machine("sagalog event-store benchmark", argv, args.tmpdir, ("pydantic", "aiosqlite"))
    print(f"  sizes     {sizes}")
    wanted = [args.only] if args.only else list(FIGURES)
    figures: list[Figure] = []
    with scratch(args.tmpdir) as directory:
        schema = store_schema(directory)
        for name in wanted:
            if name == "appends":
                figures.append(figure_appends(sizes, directory, schema))
            elif name == "concurrent":
                figures.append(figure_concurrent(sizes, directory, schema))
            elif name == "read":
                figures.append(figure_read(sizes, directory))
            else:
                figures.append(figure_memory(sizes, directory))
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.child_read_memory:
        print(json.dumps(asyncio.run(child_read_memory(args.child_read_memory))))
        return 0
    started = time.perf_counter()
    figures = run(args, [sys.argv[0], *argv])
    print_summary(figures)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    below = [figure.name for figure in figures if not figure.passed]
    return 1 if args.strict and below else 0


if __name__ == "__main__":
    sys.exit(main())
