"""Store backends side by side: the same contract calls on SQLite and in memory.

Run it from the repository root::

    python bench/backends_bench.py            # default sizes, well under a minute
    python bench/backends_bench.py --quick    # small sizes, a smoke run

Why: the in-memory backend is for tests and examples, so what matters is that it is not
slower than the SQLite file it stands in for (durability ``off``, the setting tests use),
and where it spends its time. Every figure goes through ``open_store`` and the contract's
methods only, so a new backend is one more name in ``BACKENDS``.

single     one thread appending one event per call (the cost of one transaction).
threads    8 threads appending one event per call each (the lock or the group commit).
batched    appends of 1,000 events per call.
read       ``read_all`` of the whole log, decoded.
follow     a subscription catching up on the whole log from position 1.

The best of ``--repeat`` runs is printed, in events per second.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _common import print_machine, scratch

from sagalog.events import Event
from sagalog.store import EventStoreProtocol, open_store

BACKENDS = ("sqlite", "memory")


class Tick(Event, name="bench.BackendTick"):
    n: int
    note: str = "a short payload, as most events carry"


def _target(backend: str, folder: Path, run: str) -> str:
    return str(folder / f"{run}.db") if backend == "sqlite" else f"memory:bench-{run}"


def _single(store: EventStoreProtocol, size: int) -> int:
    for n in range(size):
        store.append("single", [Tick(n=n)])
    return size


def _threads(store: EventStoreProtocol, size: int) -> int:
    each = size // 8

    def work(index: int) -> None:
        for n in range(each):
            store.append(f"thread-{index}", [Tick(n=n)])

    workers = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return each * 8


def _batched(store: EventStoreProtocol, size: int) -> int:
    for start in range(0, size, 1000):
        store.append("batched", [Tick(n=n) for n in range(start, start + 1000)])
    return size


def _read(store: EventStoreProtocol, size: int) -> int:
    _batched(store, size)
    started = time.perf_counter()
    count = sum(1 for _ in store.read_all())
    return -int(count / (time.perf_counter() - started))  # a rate of its own: see _best


def _follow(store: EventStoreProtocol, size: int) -> int:
    _batched(store, size)
    started = time.perf_counter()
    subscription = store.subscribe()
    seen = 0
    while seen < size:
        seen += len(subscription.next_batch(1000, timeout=10))
    subscription.close()
    return -int(seen / (time.perf_counter() - started))


FIGURES: dict[str, Callable[[EventStoreProtocol, int], int]] = {
    "single": _single, "threads": _threads, "batched": _batched, "read": _read,
    "follow": _follow,
}


def _best(backend: str, figure: str, size: int, repeat: int, folder: Path) -> float:
    """Events/s, the best of ``repeat`` fresh logs (a negative answer is a rate already)."""
    rates = []
    for run in range(repeat):
        options = {"durability": "off"} if backend == "sqlite" else {}
        with open_store(_target(backend, folder, f"{figure}-{run}"), **options) as store:  # type: ignore[arg-type]
            started = time.perf_counter()
            answer = FIGURES[figure](store, size)
            elapsed = time.perf_counter() - started
        rates.append(-answer if answer < 0 else answer / elapsed)
    return max(rates)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the SQLite files go")
    arguments = parser.parse_args(argv)
    sizes = {"single": 5_000, "threads": 8_000, "batched": 100_000, "read": 100_000,
             "follow": 100_000}
    if arguments.quick:
        sizes = {figure: size // 20 for figure, size in sizes.items()}
    print_machine("store backends", ["bench/backends_bench.py", *argv], arguments.dir,
                  ["pydantic"])
    print(f"  {'figure':<9}{'events':>9}" + "".join(f"{name:>14}" for name in BACKENDS)
          + f"   (events/s, best of {arguments.repeat})")
    with scratch(arguments.dir) as folder:
        for figure, size in sizes.items():
            rates = [_best(backend, figure, size, arguments.repeat, folder)
                     for backend in BACKENDS]
            print(f"  {figure:<9}{size:>9,}" + "".join(f"{rate:>14,.0f}" for rate in rates))


if __name__ == "__main__":
    main(sys.argv[1:])
