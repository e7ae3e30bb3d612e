"""Actor-runtime benchmark: a chain of 4 log-fed actors beside a plain pykka chain, in one run.

Run it from the repository root::

    python bench/runtime_bench.py              # default sizes, about 20 s
    python bench/runtime_bench.py --quick      # small sizes, a smoke run of a few seconds
    python bench/runtime_bench.py --seconds 30 --chains 100000

Why: in sagalog an actor never gets a message from another actor; every hop is an
append to the log (durability full: an fsync per commit, shared by group commit), a
commit signal, and a subscriber pulling the record back out. That costs more than a
pykka ``tell``; this benchmark says how much more, on the same machine, in the same run,
so the figure does not move with the disk or the CPU the way a bare rate would.

The chain (both sides run the same handler bodies: build the next message)::

    driver -> Hop0 -> A1 -> Hop1 -> A2 -> Hop2 -> A3 -> Hop3 -> A4 -> Hop4 -> driver

ours     four :class:`actors.Actor` subclasses in one :class:`actors.Runtime` (durability
         full, the runtime's own timer service running as always). Each handler returns
         the next message, which the runtime appends to the chain's stream together with
         the actor's checkpoint. A chain is 5 appends: the driver's input and 4 hops.
         The driver starts a chain with a non-blocking append on the store's loop (what
         ``Runtime.append_async`` does): 32 blocking ``rt.append`` calls in a row would
         each wait for their own commit, making the driver, not the runtime, the limit.
         It sees a chain complete through its own subscription to ``bench.Hop4``: the
         record is committed and readable then. (A4 signalling from inside its handler
         would be early, since its output commits after the handler returns; a fifth
         actor would add a hop.)
plain    four ``pykka.ThreadingActor`` passing the message along with ``tell``, no log;
         the last puts it on a queue the driver reads.

Both are closed loops with ``--in-flight`` chains (32): the driver starts that many, then
a new one each time one completes. After a warm-up of ``--warmup`` completed chains, the
measured window runs until ``--chains`` more have completed (``--plain-chains`` for plain,
10x as many by default: it is that much faster) or ``--seconds`` have passed, whichever is
first, always at full concurrency (the last chains drain after the window).

The figures:

chains/s      chain completions per second in the window. Floor (ours): 2,000/s.
messages/s    log records per second end to end: 5 per chain (input + 4 hops); for
              plain, the same 5 messages (the driver's tell + 4 hops).
per-hop cost  window / (chains x 4): wall time per hop with the chains in flight sharing
              the machine. Goal: ours within 5x of plain.
latency       per chain, from the driver starting it to the driver seeing it complete:
              p50, p99, mean; "per hop" is mean / 4. In a closed loop, Little's law ties
              the two (mean latency = in-flight / throughput), so the ratio ours / plain
              of the per-hop cost and of the latency per hop agree.

The runtime's group-commit writer counters (transactions, appends, records, largest
batch) are printed for the window, to show how many hops share one fsync.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykka
from _common import check_appends, delta, print_machine, scratch, snapshot

from sagalog.actors import Actor, Runtime, handles
from sagalog.events import Command, Envelope, Event
from sagalog.store import AppendRequest, WriterStats

HOPS = 4
MESSAGES_PER_CHAIN = HOPS + 1
FLOOR_CHAINS_PER_S = 2_000.0
GOAL_HOP_RATIO = 5.0


# -- the messages and the two chains -----------------------------------------------------


class Hop0(Command, name="bench.Hop0"):
    """Starts a chain."""

    chain: int


class Hop1(Event, name="bench.Hop1"):
    chain: int


class Hop2(Event, name="bench.Hop2"):
    chain: int


class Hop3(Event, name="bench.Hop3"):
    chain: int


class Hop4(Event, name="bench.Hop4"):
    """A chain's last record: when it is committed, the chain is complete."""

    chain: int


class A1(Actor):
    @handles(Hop0)
    def on(self, message: Hop0, envelope: Envelope) -> Hop1:
        return Hop1(chain=message.chain)


class A2(Actor):
    @handles(Hop1)
    def on(self, message: Hop1, envelope: Envelope) -> Hop2:
        return Hop2(chain=message.chain)


class A3(Actor):
    @handles(Hop2)
    def on(self, message: Hop2, envelope: Envelope) -> Hop3:
        return Hop3(chain=message.chain)


class A4(Actor):
    @handles(Hop3)
    def on(self, message: Hop3, envelope: Envelope) -> Hop4:
        return Hop4(chain=message.chain)


NEXT: dict[type[Any], type[Any]] = {Hop0: Hop1, Hop1: Hop2, Hop2: Hop3, Hop3: Hop4}


class PlainHop(pykka.ThreadingActor):
    """A plain pykka hop: build the next message (as the log actors do), tell it on."""

    def __init__(self, forward: Callable[[Any], None]) -> None:
        super().__init__()
        self._forward = forward

    def on_receive(self, message: Any) -> None:
        self._forward(NEXT[type(message)](chain=message.chain))


# -- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """How long each side runs."""

    chains: int
    plain_chains: int
    seconds: float
    warmup: int
    in_flight: int
    repeat: int


@dataclass
class Window:
    """What the closed loop saw in its measured window."""

    side: str
    chains: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    writer: WriterStats | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def chains_per_s(self) -> float:
        return self.chains / self.elapsed

    @property
    def messages_per_s(self) -> float:
        return self.chains * MESSAGES_PER_CHAIN / self.elapsed

    @property
    def hop_cost_us(self) -> float:
        return self.elapsed / (self.chains * HOPS) * 1e6

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))
        return ordered[index] * 1e3

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1e3


class ClosedLoop:
    """The driver's bookkeeping: start times, the window, when to stop starting chains."""

    def __init__(
        self, side: str, limits: Limits, start: Callable[[int], None], chains: int
    ) -> None:
        self.limits = limits
        self._chains = chains
        self._start = start
        self._started: dict[int, float] = {}
        self._next = 0
        self._completed = 0
        self._window_start: float | None = None
        self._window_end: float | None = None
        self.window = Window(side)

    @property
    def in_flight(self) -> int:
        return len(self._started)

    @property
    def measuring(self) -> bool:
        """The warm-up is over (the window has opened, and may have closed)."""
        return self._window_start is not None

    @property
    def measuring_done(self) -> bool:
        return self._window_end is not None

    def launch(self) -> None:
        chain = self._next
        self._next += 1
        self._started[chain] = time.perf_counter()
        self._start(chain)

    def fill(self) -> None:
        """Start chains until the loop is full (only until the window has closed)."""
        while not self.measuring_done and self.in_flight < self.limits.in_flight:
            self.launch()

    def completed(self, chain: int, now: float) -> None:
        started = self._started.pop(chain)
        self._completed += 1
        if self._window_start is None:
            if self._completed >= self.limits.warmup:
                self._window_start = now
            return
        if self._window_end is not None:
            return
        self.window.chains += 1
        self.window.latencies.append(now - started)
        if self.window.chains >= self._chains or now - self._window_start >= self.limits.seconds:
            self._window_end = now
            self.window.elapsed = now - self._window_start

    @property
    def launched(self) -> int:
        return self._next


# -- ours: the runtime -------------------------------------------------------------------


def run_ours(directory: Path, limits: Limits, number: int) -> Window:
    path = directory / f"runtime-{number}.db"
    try:
        return _run_ours(path, limits)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _run_ours(path: Path, limits: Limits) -> Window:
    with Runtime(path, durability="full") as rt:
        names = [rt.add(actor) for actor in (A1, A2, A3, A4)]
        store = rt.store
        inner = store
        done = store.subscribe(store.last_position() + 1, types=[Hop4])
        appends: list[Future[Any]] = []

        def start(chain: int) -> None:
            # Non-blocking: the append runs on the store's loop; group commit may put it
            # in one transaction with other chains' hops.
            appends.append(
                store.submit([AppendRequest(f"chain-{chain}", [Hop0(chain=chain)],
                                            correlation_id=f"chain-{chain}")])
            )

        loop = ClosedLoop("ours", limits, start, limits.chains)
        before: WriterStats | None = None
        loop.fill()
        idle_deadline = time.monotonic() + 30.0
        while loop.in_flight:
            batch = done.next_batch(256, 1.0)
            now = time.perf_counter()
            if batch:
                idle_deadline = time.monotonic() + 30.0
            elif time.monotonic() > idle_deadline:
                msg = f"no chain completed for 30 s ({loop.in_flight} in flight)"
                raise RuntimeError(msg)
            for record in batch:
                was_measuring = loop.measuring
                loop.completed(record.data.chain, now)
                if not was_measuring and loop.measuring:
                    before = snapshot(inner.stats)
            if loop.measuring_done and loop.window.writer is None:
                loop.window.writer = delta(snapshot(inner.stats), before or WriterStats())
            loop.fill()
            check_appends(appends)
        done.close()
        check_appends(appends, wait=True)
        failed = [name for name in names if rt.restarts(name)]
        if failed:
            msg = f"actors restarted during the run: {failed}"
            raise RuntimeError(msg)
        hop4 = sum(1 for _ in store.read_all(types=[Hop4]))
        if hop4 != loop.launched:
            msg = f"{hop4:,} chains completed in the log, {loop.launched:,} started"
            raise RuntimeError(msg)
        loop.window.extra["log"] = f"{store.last_position():,} records in the log"
    return loop.window


# -- plain: pykka alone ------------------------------------------------------------------


def run_plain(_directory: Path, limits: Limits, _number: int) -> Window:
    sink: queue.SimpleQueue[Hop4] = queue.SimpleQueue()
    refs: list[pykka.ActorRef[PlainHop]] = []
    forward: Callable[[Any], None] = sink.put
    try:
        for _ in range(HOPS):
            ref = PlainHop.start(forward)
            refs.append(ref)
            forward = ref.tell
        first = refs[-1]
        loop = ClosedLoop(
            "plain", limits, lambda chain: first.tell(Hop0(chain=chain)), limits.plain_chains
        )
        loop.fill()
        while loop.in_flight:
            try:
                message = sink.get(timeout=30.0)
            except queue.Empty:
                msg = f"no chain completed for 30 s ({loop.in_flight} in flight)"
                raise RuntimeError(msg) from None
            loop.completed(message.chain, time.perf_counter())
            with contextlib.suppress(queue.Empty):
                while True:  # what else has completed, before refilling
                    loop.completed(sink.get_nowait().chain, time.perf_counter())
            loop.fill()
    finally:
        for ref in refs:
            ref.stop()
    return loop.window


# -- running and reporting ---------------------------------------------------------------


def describe(window: Window) -> None:
    print(
        f"  {window.side:<5} {window.chains:>8,} chains in {window.elapsed:6.2f} s: "
        f"{window.chains_per_s:>9,.0f} chains/s, {window.messages_per_s:>9,.0f} messages/s, "
        f"{window.hop_cost_us:>8.1f} us/hop"
    )
    print(
        f"        latency p50 {window.latency_ms(0.5):7.2f} ms, p99 {window.latency_ms(0.99):7.2f}"
        f" ms, mean {window.mean_ms:7.2f} ms ({window.mean_ms / HOPS * 1e3:,.0f} us per hop)"
    )
    stats = window.writer
    if stats is not None and stats.transactions:
        print(
            f"        writer: {stats.transactions:,} transactions, {stats.appends:,} appends, "
            f"{stats.records:,} records in the window; "
            f"{stats.appends / stats.transactions:.1f} appends "
            f"({stats.records / stats.transactions:.1f} records) per commit; "
            f"largest batch {stats.largest_batch} appends"
        )
        print(
            f"        {stats.transactions / window.elapsed:,.0f} commits/s, "
            f"{window.elapsed / stats.transactions * 1e6:,.0f} us per commit"
        )
    for text in window.extra.values():
        print(f"        {text}")


def best(windows: Sequence[Window]) -> Window:
    return max(windows, key=lambda window: window.chains_per_s)


def summary(ours: Window, plain: Window) -> bool:
    ratio = ours.hop_cost_us / plain.hop_cost_us
    floor_ok = ours.chains_per_s >= FLOOR_CHAINS_PER_S
    goal_ok = ratio <= GOAL_HOP_RATIO
    print("\nsummary")
    print(f"  {'figure':<14} {'ours':>10} {'plain':>10}  {'ours/plain':>10}  target")
    print(
        f"  {'chains/s':<14} {ours.chains_per_s:>10,.0f} {plain.chains_per_s:>10,.0f}  "
        f"{ours.chains_per_s / plain.chains_per_s:>9.3f}x  floor >= {FLOOR_CHAINS_PER_S:,.0f}"
        f" (ours): {'PASS' if floor_ok else 'BELOW-FLOOR'}"
    )
    print(
        f"  {'messages/s':<14} {ours.messages_per_s:>10,.0f} {plain.messages_per_s:>10,.0f}  "
        f"{ours.messages_per_s / plain.messages_per_s:>9.3f}x"
    )
    print(
        f"  {'us per hop':<14} {ours.hop_cost_us:>10.1f} {plain.hop_cost_us:>10.1f}  "
        f"{ratio:>9.1f}x  goal <= {GOAL_HOP_RATIO:.0f}x: {'MET' if goal_ok else 'NOT MET'}"
    )
    print(
        f"  {'p50 latency ms':<14} {ours.latency_ms(0.5):>10.2f} {plain.latency_ms(0.5):>10.2f}  "
        f"{ours.latency_ms(0.5) / plain.latency_ms(0.5):>9.1f}x"
    )
    print(
        f"  {'p99 latency ms':<14} {ours.latency_ms(0.99):>10.2f} "
        f"{plain.latency_ms(0.99):>10.2f}  "
        f"{ours.latency_ms(0.99) / plain.latency_ms(0.99):>9.1f}x"
    )
    return floor_ok


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument(
        "--chains", type=int, help="chains measured per run, at most (default 20,000)"
    )
    parser.add_argument(
        "--plain-chains",
        type=int,
        help="chains measured per plain run, at most (default 10 x --chains)",
    )
    parser.add_argument(
        "--seconds", type=float, help="measured window per run, at most (default 10)"
    )
    parser.add_argument("--in-flight", type=int, default=32, help="chains in flight (32)")
    parser.add_argument("--warmup", type=int, help="chains completed before the window (500)")
    parser.add_argument("--repeat", type=int, help="runs per side, best kept (default 1)")
    parser.add_argument("--only", choices=("ours", "plain"), help="run one side")
    parser.add_argument("--tmpdir", help="where the database files go (default: the system's)")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 if ours is below the chains/s floor"
    )
    return parser.parse_args(argv)


def limits_from(args: argparse.Namespace) -> Limits:
    if args.quick:
        defaults = Limits(1_000, 0, seconds=3.0, warmup=100, in_flight=32, repeat=1)
    else:
        defaults = Limits(20_000, 0, seconds=10.0, warmup=500, in_flight=32, repeat=1)
    chains = args.chains or defaults.chains
    return Limits(
        chains=chains,
        plain_chains=args.plain_chains or 10 * chains,
        seconds=args.seconds or defaults.seconds,
        warmup=args.warmup if args.warmup is not None else defaults.warmup,
        in_flight=args.in_flight,
        repeat=args.repeat or defaults.repeat,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    limits = limits_from(args)
    started = time.perf_counter()
    print_machine("sagalog actor-runtime benchmark", [sys.argv[0], *argv], args.tmpdir,
                  ("pykka", "aiosqlite", "pydantic"))
    print(f"  limits    {limits}")
    sides: dict[str, Callable[[Path, Limits, int], Window]] = {
        "ours": run_ours,
        "plain": run_plain,
    }
    wanted = [args.only] if args.only else list(sides)
    results: dict[str, list[Window]] = {name: [] for name in wanted}
    with scratch(args.tmpdir) as directory:
        for number in range(limits.repeat):
            for name in wanted:  # interleaved, so a disturbance hits both sides alike
                print(f"\n[{name}] run {number + 1} of {limits.repeat}")
                window = sides[name](directory, limits, number)
                results[name].append(window)
                describe(window)
    passed = True
    if len(wanted) == 2:
        passed = summary(best(results["ours"]), best(results["plain"]))
    elif "ours" in results:
        passed = best(results["ours"]).chains_per_s >= FLOOR_CHAINS_PER_S
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
