"""Order-workflow benchmark: orders end to end through the saga and its four services.

Run it from the repository root::

    python bench/orders_bench.py                     # default sizes, about a minute
    python bench/orders_bench.py --quick             # small sizes, a smoke run
    python bench/orders_bench.py --only resume --resume-orders 20000
    python bench/orders_bench.py --only resume --resume-history 20000   # a longer log

Why: the actor-chain benchmark (``runtime_bench.py``) prices one hop through the log.
An order is the real workload: the order saga (``sagas.orders``) checks the product,
then pays, reserves and ships in parallel, and undoes what succeeded when a service
fails, each step a command appended to the log, handled by a service actor that calls
its demo adapter (one ``Ledger.apply``, a synchronous=FULL SQLite transaction of its
own) and appends the result, which the saga folds into its next decision. The
performance issue asks two questions of that workload on the 2-core machine:

throughput   end-to-end orders per second with the four service actors (ProductService,
             PaymentService, InventoryService, ShippingService) and the saga actor, all
             registered by ``add_order_workflow``, durability full, 64 orders in flight.
             A closed loop: the driver places 64 orders, then a new one each time one
             ends. Placing is a non-blocking append of the same ``OrderPlaced`` that
             ``place_order`` builds (on the store's loop, as ``Runtime.append_async``
             does; only the event id is a fresh one rather than derived from the order
             id), so the driver is never the limit. An order has ended when its
             terminal event (``TERMINAL_TYPES``) is committed: the driver follows them
             with its own subscription. Each service fails with probability
             ``--fail-rate`` (0.1, decided per order by ``FailurePlan``), so about 27%
             of the orders fail and compensations run; the outcome mix is printed.
             After ``--warmup`` ended orders the window runs until ``--orders`` more
             have ended or ``--seconds`` have passed, whichever is first.
             Floor: 300 orders/s. Also reported: events per order (records in the log /
             orders placed, every record counted: commands, results, the saga's
             ``SagaDecided`` records, terminals), latency from placing to the terminal
             event (p50, p99, mean), the group-commit writer's counters for the window,
             and the process's CPU use (2 cores means at most 200%).
resume       the time for a ``resume`` to rebuild 10,000 unfinished orders from the log
             and start driving them. The log is built first (durability off, not
             timed) by a runtime with only the saga actor and the ProductService,
             under the names ``add_order_workflow`` uses: 10,000 orders placed, each
             product confirmed, and the ChargePayment, ReserveInventory and
             ScheduleShipping commands issued, with nobody there to handle them. So
             every order is genuinely in flight: its saga has started and waits for
             three results. Then, timed from before the runtime opens, what
             ``python run.py resume`` does: open a ``Runtime`` (durability full),
             ``add_order_workflow`` (the services find the commands past their
             checkpoints; the saga replays its events up to its checkpoint), then
             ``unfinished_orders``, then wait for every order to end. Printed: when the
             saga logged "replayed N events" (its rebuild is done), when the first new
             ``SagaDecided`` was committed (the saga has rebuilt and decides on new
             results: "rebuild and start driving", floor 10 s), the first order ended,
             and all of them ended. ``unfinished_orders`` is also timed alone on the
             quiet log before the resume. The log file is in the page cache (it was
             just written); a resume after a reboot would read it from disk.
             ``--resume-history N`` first runs N orders to their end through the full
             workflow (not timed), so the log also holds finished orders, as a log in
             service does: the saga's rebuild replays every event of its types in the
             log, finished orders' included, so its time grows with the log, not only
             with the orders in flight.

The database files live in a temporary directory (``--tmpdir``), removed afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from _common import check_appends, delta, print_machine, scratch, snapshot
from loguru import logger

from sagalog.actors import Ledger, Runtime
from sagalog.actors.orders import DemoCatalogue, ProductService
from sagalog.events import enable_logging
from sagalog.events.orders import OrderPlaced
from sagalog.sagas import saga_actor
from sagalog.sagas.orders import (
    ORDER_SAGA,
    TERMINAL_TYPES,
    FailurePlan,
    add_order_workflow,
    order_stream,
    unfinished_orders,
    wait_for_terminals,
)
from sagalog.store import (
    AppendRequest,
    EventStoreProtocol,
    SqliteEventStore,
    SyncSubscription,
    WriterStats,
)

FLOOR_ORDERS_PER_S = 300.0
FLOOR_RESUME_S = 10.0
SAGA_NAME = "saga:order"
STAGE_TWO = ("ChargePayment", "ReserveInventory", "ScheduleShipping")
STALL_S = 60.0
"""A run fails when no order has ended for this long."""


@dataclass(frozen=True)
class Settings:
    """What the run does."""

    orders: int
    seconds: float
    warmup: int
    in_flight: int
    fail_rate: float
    seed: int
    resume_orders: int
    resume_history: int

    @property
    def plan(self) -> FailurePlan:
        return FailurePlan(rate=self.fail_rate, seed=self.seed)


def placed(order_id: str) -> OrderPlaced:
    """The order ``place_order`` appends."""
    return OrderPlaced(order_id=order_id, product_id=f"product-{order_id}", amount_cents=1250)


def ledger_path(path: Path) -> Path:
    """Where the demo adapters record their effects: beside the log (as run.py does)."""
    return Path(f"{path}.ledger")


def cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


# -- throughput --------------------------------------------------------------------------


@dataclass
class Throughput:
    """What the closed loop saw."""

    orders: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    writer: WriterStats | None = None
    placed: int = 0
    records: int = 0
    record_types: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    effects: int = 0

    @property
    def orders_per_s(self) -> float:
        return self.orders / self.elapsed

    @property
    def events_per_order(self) -> float:
        return self.records / self.placed

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))
        return ordered[index] * 1e3

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1e3


class ClosedLoop:
    """The driver's bookkeeping: start times, the window, when to stop placing orders."""

    def __init__(self, settings: Settings, place: Any) -> None:
        self.settings = settings
        self._place = place
        self._started: dict[str, float] = {}
        self._numbers = itertools.count(1)
        self.launched = 0
        self._ended = 0
        self._window_start: float | None = None
        self._window_end: float | None = None
        self._cpu_start = 0.0
        self.result = Throughput()

    @property
    def in_flight(self) -> int:
        return len(self._started)

    @property
    def measuring(self) -> bool:
        return self._window_start is not None

    @property
    def measuring_done(self) -> bool:
        return self._window_end is not None

    def fill(self) -> None:
        """Place orders until the loop is full (only until the window has closed)."""
        while not self.measuring_done and self.in_flight < self.settings.in_flight:
            order_id = f"b-{next(self._numbers)}"
            self.launched += 1
            self._started[order_id] = time.perf_counter()
            self._place(order_id)

    def ended(self, order_id: str, now: float) -> bool:
        """Count one terminal event; False for an order this loop did not place."""
        started = self._started.pop(order_id, None)
        if started is None:
            return False
        self._ended += 1
        if self._window_start is None:
            if self._ended >= self.settings.warmup:
                self._window_start = now
                self._cpu_start = cpu_seconds()
            return True
        if self._window_end is not None:
            return True
        result = self.result
        result.orders += 1
        result.latencies.append(now - started)
        if (
            result.orders >= self.settings.orders
            or now - self._window_start >= self.settings.seconds
        ):
            self._window_end = now
            result.elapsed = now - self._window_start
            result.cpu = cpu_seconds() - self._cpu_start
        return True


def run_throughput(directory: Path, settings: Settings) -> Throughput:
    path = directory / "throughput.db"
    with Ledger(ledger_path(path)) as ledger, Runtime(path, durability="full") as rt:
        add_order_workflow(rt, ledger, settings.plan)
        store = rt.store
        inner = store
        done = store.subscribe(store.last_position() + 1, types=list(TERMINAL_TYPES))
        appends: list[Future[Any]] = []

        def place(order_id: str) -> None:
            # Non-blocking: the append runs on the store's loop, so group commit can put
            # it in one transaction with the actors' outputs.
            appends.append(
                store.submit([AppendRequest(order_stream(order_id), [placed(order_id)],
                                            correlation_id=order_id)])
            )

        loop = ClosedLoop(settings, place)
        outcomes = drive(loop, done, inner, appends)
        done.close()
        check_appends(appends, wait=True)
        died = [name for name in rt.actor_names if rt.restarts(name)]
        if died:
            msg = f"actors restarted during the run: {died}"
            raise RuntimeError(msg)
        result = loop.result
        result.placed = loop.launched
        result.outcomes = outcomes
        result.record_types = Counter(record.type for record in store.read_all())
        result.records = sum(result.record_types.values())
        terminals = sum(result.record_types[kind] for kind in TERMINAL_TYPES)
        if terminals != loop.launched or sum(outcomes.values()) != loop.launched:
            msg = f"{terminals:,} orders ended in the log, {loop.launched:,} placed"
            raise RuntimeError(msg)
        check_ledger(ledger)
        result.effects = ledger.count()
    return result


def drive(
    loop: ClosedLoop,
    done: SyncSubscription,
    inner: SqliteEventStore,
    appends: list[Future[Any]],
) -> Counter[str]:
    """Run the closed loop until every order placed has ended; the outcome mix."""
    before: WriterStats | None = None
    outcomes: Counter[str] = Counter()
    loop.fill()
    stall = time.monotonic() + STALL_S
    while loop.in_flight:
        batch = done.next_batch(256, 1.0)
        now = time.perf_counter()
        if batch:
            stall = time.monotonic() + STALL_S
        elif time.monotonic() > stall:
            msg = f"no order ended for {STALL_S:g} s ({loop.in_flight} in flight)"
            raise RuntimeError(msg)
        for record in batch:
            was_measuring = loop.measuring
            if loop.ended(record.correlation_id or "", now):
                outcomes[record.type] += 1
            if not was_measuring and loop.measuring:
                before = snapshot(inner.stats)
        if loop.measuring_done and loop.result.writer is None:
            loop.result.writer = delta(snapshot(inner.stats), before or WriterStats())
        loop.fill()
        check_appends(appends)
    return outcomes


def check_ledger(ledger: Ledger) -> None:
    """No effect recorded twice (the demo adapters' idempotency held)."""
    duplicates = ledger.duplicates()
    if duplicates:
        msg = f"effects recorded twice: {duplicates[:5]}"
        raise RuntimeError(msg)


def describe_throughput(result: Throughput, settings: Settings) -> None:
    print(
        f"  {result.orders:,} orders ended in {result.elapsed:.2f} s: "
        f"{result.orders_per_s:,.0f} orders/s ({settings.in_flight} in flight)"
    )
    print(
        f"  latency placing -> terminal: p50 {result.latency_ms(0.5):.1f} ms, "
        f"p99 {result.latency_ms(0.99):.1f} ms, mean {result.mean_ms:.1f} ms"
    )
    print(
        f"  events per order {result.events_per_order:.2f} "
        f"({result.records:,} records for {result.placed:,} orders, warm-up and drain "
        f"included); {result.records / result.placed * result.orders_per_s:,.0f} records/s "
        "in the window"
    )
    common = ", ".join(f"{kind} {count:,}" for kind, count in result.record_types.most_common())
    print(f"  records by type: {common}")
    mix = ", ".join(
        f"{kind} {count:,} ({count / result.placed:.0%})"
        for kind, count in sorted(result.outcomes.items())
    )
    print(f"  outcomes: {mix}")
    print(f"  ledger: {result.effects:,} effects, no key twice")
    stats = result.writer
    if stats is not None and stats.transactions:
        print(
            f"  writer: {stats.transactions:,} transactions, {stats.appends:,} appends, "
            f"{stats.records:,} records in the window; "
            f"{stats.appends / stats.transactions:.1f} appends "
            f"({stats.records / stats.transactions:.1f} records) per commit; "
            f"largest batch {stats.largest_batch} appends"
        )
        print(
            f"          {stats.transactions / result.elapsed:,.0f} commits/s, "
            f"{result.elapsed / stats.transactions * 1e6:,.0f} us per commit"
        )
    print(
        f"  cpu: {result.cpu / result.elapsed:.0%} of one core in the window "
        f"({os.cpu_count()} cores), {result.cpu / result.orders * 1e3:.2f} ms per order"
    )


# -- resume ------------------------------------------------------------------------------


@dataclass
class Build:
    """The log of unfinished orders."""

    path: Path
    orders: list[str]
    head: int
    seconds: float
    commands: Counter[str]


@dataclass
class Resume:
    """When each thing happened, in seconds from before the runtime opened."""

    orders: int
    started: float = 0.0
    """The runtime was open and the workflow's actors launched."""
    rebuilt: float | None = None
    """The saga logged that it had replayed its events."""
    replay_message: str = ""
    first_decision: float | None = None
    """The first new SagaDecided was committed."""
    first_end: float | None = None
    all_ended: float | None = None
    unfinished: float = 0.0
    """``unfinished_orders`` inside the resume, beside the actors (its own duration)."""
    unfinished_found: int = 0
    quiet_unfinished: float = 0.0
    """``unfinished_orders`` alone on the quiet log (its duration)."""
    outcomes: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0

    @property
    def driving(self) -> float:
        """Rebuild and start driving: the floored figure."""
        return self.first_decision if self.first_decision is not None else float("inf")


def build_history(path: Path, count: int, plan: FailurePlan) -> float:
    """``count`` orders run to their end by the full workflow (not timed); the seconds."""
    orders = [f"h-{number}" for number in range(1, count + 1)]
    began = time.perf_counter()
    with Ledger(ledger_path(path)) as ledger, Runtime(path, durability="off") as rt:
        add_order_workflow(rt, ledger, plan)
        start = rt.store.last_position()
        for first in range(0, count, 500):
            rt.store.append_all(
                [
                    AppendRequest(
                        order_stream(order_id), [placed(order_id)], correlation_id=order_id
                    )
                    for order_id in orders[first : first + 500]
                ],
                want_records=False,
            )
        wait_for_terminals(rt, set(orders), start + 1, timeout=STALL_S)
    return time.perf_counter() - began


def build_log(path: Path, count: int) -> Build:
    """Orders whose sagas wait for payment, inventory and shipping (not timed)."""
    orders = [f"r-{number}" for number in range(1, count + 1)]
    began = time.perf_counter()
    with Runtime(path, durability="off") as rt:
        rt.add(ProductService, DemoCatalogue())
        rt.add(saga_actor(ORDER_SAGA), name=SAGA_NAME)
        start = rt.store.last_position()
        for first in range(0, count, 500):
            rt.store.append_all(
                [
                    AppendRequest(
                        order_stream(order_id), [placed(order_id)], correlation_id=order_id
                    )
                    for order_id in orders[first : first + 500]
                ],
                want_records=False,
            )
        if not rt.wait_until_idle(timeout=600.0):
            msg = "building the resume log: the saga did not settle within 600 s"
            raise RuntimeError(msg)
        head = rt.store.last_position()
        commands = Counter(
            record.type for record in rt.store.read_all(start + 1, types=list(STAGE_TWO))
        )
    short = {kind: commands[kind] for kind in STAGE_TWO if commands[kind] != count}
    if short:
        msg = f"building the resume log: expected {count:,} of each command, got {short}"
        raise RuntimeError(msg)
    return Build(path, orders, head, time.perf_counter() - began, commands)


class Watcher(threading.Thread):
    """Follows the log from the resume's first new position: first decision, ends."""

    def __init__(
        self, store: EventStoreProtocol, head: int, orders: set[str], t0: float, result: Resume
    ) -> None:
        super().__init__(name="bench-watcher", daemon=True)
        self.store = store
        self.head = head
        self.orders = orders
        self.t0 = t0
        self.result = result
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._watch()
        except BaseException as error:
            self.error = error

    def _watch(self) -> None:
        result = self.result
        # One record is enough here: decoding every decision would take CPU from the
        # runtime being measured.
        first = self.store.subscribe(self.head + 1, types=["SagaDecided"])
        try:
            if not first.next_batch(1, STALL_S):
                msg = f"the saga decided nothing within {STALL_S:g} s of starting"
                raise RuntimeError(msg)
            result.first_decision = time.perf_counter() - self.t0
        finally:
            first.close()
        ends = self.store.subscribe(self.head + 1, types=list(TERMINAL_TYPES))
        ended: set[str] = set()
        try:
            while len(ended) < len(self.orders):
                batch = ends.next_batch(1000, STALL_S)
                now = time.perf_counter() - self.t0
                if not batch:
                    left = len(self.orders) - len(ended)
                    msg = f"{left:,} orders did not end within {STALL_S:g} s of no progress"
                    raise RuntimeError(msg)
                for record in batch:
                    order_id = record.correlation_id or ""
                    if order_id in self.orders and order_id not in ended:
                        ended.add(order_id)
                        result.outcomes[record.type] += 1
                        if result.first_end is None:
                            result.first_end = now
            result.all_ended = time.perf_counter() - self.t0
        finally:
            ends.close()


@contextmanager
def replay_capture(result: Resume, t0: list[float]) -> Iterator[None]:
    """Note when the saga actor logs its "replayed N events" line."""

    def sink(message: Any) -> None:  # loguru's message
        if result.rebuilt is None:
            result.rebuilt = time.perf_counter() - t0[0]
            result.replay_message = message.record["message"]

    def wanted(record: Any) -> bool:  # loguru's record
        return record["name"] == "sagalog.sagas._actor" and record["message"].startswith("replayed")

    logger.enable("sagalog.sagas")
    sink_id = logger.add(sink, level="INFO", filter=wanted, format="{message}")
    try:
        yield
    finally:
        logger.remove(sink_id)


def run_resume(directory: Path, settings: Settings) -> tuple[Build, Resume]:
    count = settings.resume_orders
    path = directory / "resume.db"
    if settings.resume_history:
        seconds = build_history(path, settings.resume_history, settings.plan)
        print(
            f"  history: {settings.resume_history:,} orders run to their end first "
            f"(full workflow, durability off, not timed) in {seconds:.1f} s"
        )
    built = build_log(path, count)
    print(
        f"  built in {built.seconds:.1f} s (durability off, not timed): {count:,} orders, "
        f"{built.head:,} records in the log, "
        + ", ".join(f"{kind} {built.commands[kind]:,}" for kind in STAGE_TWO)
        + " issued and unhandled"
    )
    result = Resume(orders=count)
    with Runtime(built.path, durability="full") as quiet:
        began = time.perf_counter()
        pending = unfinished_orders(quiet)
        result.quiet_unfinished = time.perf_counter() - began
    if pending != set(built.orders):
        msg = f"unfinished_orders found {len(pending):,} orders, {count:,} expected"
        raise RuntimeError(msg)

    t0 = [0.0]
    with replay_capture(result, t0):
        cpu = cpu_seconds()
        t0[0] = time.perf_counter()
        with (
            Ledger(ledger_path(built.path)) as ledger,
            Runtime(built.path, durability="full") as rt,
        ):
            watcher = Watcher(rt.store, built.head, set(built.orders), t0[0], result)
            watcher.start()
            add_order_workflow(rt, ledger, settings.plan)  # as run.py's resume does
            result.started = time.perf_counter() - t0[0]
            began = time.perf_counter()
            found = unfinished_orders(rt)
            result.unfinished = time.perf_counter() - began
            result.unfinished_found = len(found)
            watcher.join()
            result.cpu = cpu_seconds() - cpu
            if watcher.error is not None:
                raise watcher.error
            died = [name for name in rt.actor_names if rt.restarts(name)]
            if died:
                msg = f"actors restarted during the resume: {died}"
                raise RuntimeError(msg)
            check_ledger(ledger)
    return built, result


def describe_resume(result: Resume) -> None:
    def at(value: float | None) -> str:
        return "never" if value is None else f"{value:7.2f} s"

    print(f"  unfinished_orders alone on the quiet log: {result.quiet_unfinished:.2f} s")
    print("  resume, from before the runtime opens:")
    print(f"    runtime open, workflow added   {at(result.started)}")
    print(
        f"    saga rebuilt                   {at(result.rebuilt)}"
        + (f"  ({result.replay_message})" if result.replay_message else "")
    )
    print(
        f"    first new decision committed   {at(result.first_decision)}"
        "  <- rebuild and start driving"
    )
    print(f"    first order ended              {at(result.first_end)}")
    if result.all_ended is not None:
        drain = result.all_ended - result.driving
        print(
            f"    {f'all {result.orders:,} orders ended':<30} {at(result.all_ended)}"
            f"  ({result.orders / result.all_ended:,.0f} orders/s overall, "
            f"{result.orders / drain:,.0f} orders/s once driving)"
        )
    print(
        f"    unfinished_orders beside the actors took {result.unfinished:.2f} s "
        f"({result.unfinished_found:,} found)"
    )
    mix = ", ".join(
        f"{kind} {count:,} ({count / result.orders:.0%})"
        for kind, count in sorted(result.outcomes.items())
    )
    print(f"  outcomes: {mix}")
    if result.all_ended:
        print(f"  cpu: {result.cpu / result.all_ended:.0%} of one core over the resume")


# -- running and reporting ---------------------------------------------------------------


def verdict(passed: bool) -> str:  # noqa: FBT001
    return "PASS" if passed else "BELOW-FLOOR"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--orders", type=int, help="orders measured, at most (default 5,000)")
    parser.add_argument("--seconds", type=float, help="measured window, at most (default 10)")
    parser.add_argument("--in-flight", type=int, default=64, help="orders in flight (64)")
    parser.add_argument("--warmup", type=int, help="orders ended before the window (200)")
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=0.1,
        help="each service fails with this probability, per order (0.1)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the failures (1)")
    parser.add_argument(
        "--resume-orders", type=int, help="unfinished orders to resume (default 10,000)"
    )
    parser.add_argument(
        "--resume-history",
        type=int,
        help="orders run to their end before the unfinished ones are placed (default 0)",
    )
    parser.add_argument("--only", choices=("throughput", "resume"), help="run one figure")
    parser.add_argument("--tmpdir", help="where the database files go (default: the system's)")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 if a figure is below its floor"
    )
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    if args.quick:
        orders, seconds, warmup, resume_orders, history = 300, 3.0, 50, 1_000, 0
    else:
        orders, seconds, warmup, resume_orders, history = 5_000, 10.0, 200, 10_000, 0
    return Settings(
        orders=args.orders or orders,
        seconds=args.seconds or seconds,
        warmup=args.warmup if args.warmup is not None else warmup,
        in_flight=args.in_flight,
        fail_rate=args.fail_rate,
        seed=args.seed,
        resume_orders=args.resume_orders or resume_orders,
        resume_history=args.resume_history if args.resume_history is not None else history,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    settings = settings_from(args)
    started = time.perf_counter()
    logger.remove()  # the benchmark owns the sinks: only warnings and errors, on stderr
    enable_logging(sys.stderr, level="WARNING")
    print_machine("sagalog order-workflow benchmark", [sys.argv[0], *argv], args.tmpdir,
                  ("pykka", "aiosqlite", "pydantic", "loguru"))
    print(f"  settings  {settings}")
    lines: list[tuple[str, str, str, bool]] = []
    with scratch(args.tmpdir) as directory:
        if args.only in (None, "throughput"):
            print(
                f"\n[throughput] the order workflow, durability full, "
                f"{settings.in_flight} in flight, fail rate {settings.fail_rate:g} per service"
            )
            result = run_throughput(directory, settings)
            describe_throughput(result, settings)
            lines += [
                (
                    "orders/s",
                    f"{result.orders_per_s:,.0f}",
                    f">= {FLOOR_ORDERS_PER_S:,.0f}",
                    result.orders_per_s >= FLOOR_ORDERS_PER_S,
                ),
                ("events/order", f"{result.events_per_order:.2f}", "-", True),
                ("p50 latency", f"{result.latency_ms(0.5):.1f} ms", "-", True),
                ("p99 latency", f"{result.latency_ms(0.99):.1f} ms", "-", True),
            ]
        if args.only in (None, "resume"):
            print(
                f"\n[resume] {settings.resume_orders:,} unfinished orders after "
                f"{settings.resume_history:,} finished ones, durability full, "
                f"fail rate {settings.fail_rate:g} per service"
            )
            _, resumed = run_resume(directory, settings)
            describe_resume(resumed)
            lines += [
                (
                    "resume: start driving",
                    f"{resumed.driving:.2f} s",
                    f"<= {FLOOR_RESUME_S:g} s",
                    resumed.driving <= FLOOR_RESUME_S,
                ),
                (
                    "resume: all ended",
                    "-" if resumed.all_ended is None else f"{resumed.all_ended:.2f} s",
                    "-",
                    True,
                ),
                ("unfinished_orders", f"{resumed.quiet_unfinished:.2f} s", "-", True),
            ]
    print("\nsummary")
    print(f"  {'figure':<22} {'value':>12}  {'floor':<10} verdict")
    for name, value, floor, passed in lines:
        shown = f"{floor:<10} {verdict(passed)}" if floor != "-" else "-"
        print(f"  {name:<22} {value:>12}  {shown}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    failed = any(not passed for _, _, _, passed in lines)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
