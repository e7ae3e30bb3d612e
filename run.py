"""sagalog's command line: ``python run.py`` (or the ``sagalog`` script).

With no subcommand it runs the main job on the embedded SQLite default
(``./sagalog.db``). Today that is a short demo of the log itself: it appends typed
events to a few streams, reads them back typed, and verifies the hash chain. The
workflow commands arrive with the saga and pipeline work.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from loguru import logger

from events import Event, SagalogError, enable_logging
from store import NO_STREAM, SqliteEventStore

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_DB = "sagalog.db"


class DemoOrderPlaced(Event, name="demo.OrderPlaced"):
    """An order was placed (the demo's only fact worth a stream of its own)."""

    order_id: str
    amount_cents: int


class DemoOrderShipped(Event, name="demo.OrderShipped"):
    """An order left the warehouse."""

    order_id: str
    carrier: str


async def demo(path: str, orders: int) -> int:
    """Append a few orders, read them back typed, verify the log; 0 when all is well."""
    async with SqliteEventStore.open(path) as store:
        start = await store.last_position()
        run = f"demo-{start + 1}"
        for number in range(1, orders + 1):
            order_id = f"{run}-order-{number}"
            placed = await store.append(
                order_id,
                [DemoOrderPlaced(order_id=order_id, amount_cents=1000 * number)],
                expected_version=NO_STREAM,
                correlation_id=run,
            )
            await store.append(
                order_id,
                [DemoOrderShipped(order_id=order_id, carrier="post")],
                expected_version=1,
                correlation_id=run,
                causation_id=placed[0].event_id,
            )
        print(f"appended {orders * 2} events for run {run} to {path}")
        print(f"{'position':>8}  {'stream':<24} {'ver':>3}  type")
        async for record in store.read_all(from_position=start + 1):
            print(
                f"{record.position:>8}  {record.stream_id:<24} {record.stream_version:>3}  "
                f"{record.type} {record.data.model_dump()}"
            )
        report = await store.verify()
        print(f"verify: {report}")
        return 0 if report.ok else 1


async def verify(path: str) -> int:
    """Check the hash chain and the database; 0 when intact, 1 naming the first bad position."""
    interactive = sys.stderr.isatty()

    def progress(count: int) -> None:
        if interactive:
            print(f"\rverified {count:,} records", end="", file=sys.stderr, flush=True)

    async with SqliteEventStore.open(path) as store:
        report = await store.verify(progress)
    if interactive:
        print(file=sys.stderr)
    print(report)
    return 0 if report.ok else 1


def parser() -> argparse.ArgumentParser:
    """The command line's arguments."""
    top = argparse.ArgumentParser(prog="sagalog", description=__doc__.split("\n\n")[0])
    top.add_argument(
        "--db", default=DEFAULT_DB, help="the log's SQLite file (default: %(default)s)"
    )
    top.add_argument("-q", "--quiet", action="store_true", help="no log lines on stderr")
    commands = top.add_subparsers(dest="command")
    run_demo = commands.add_parser("demo", help="append, read back and verify a few events")
    run_demo.add_argument("--orders", type=int, default=3, help="orders to place (default: 3)")
    commands.add_parser("verify", help="check the hash chain and SQLite's integrity")
    for sub in commands.choices.values():
        sub.add_argument("--db", default=argparse.SUPPRESS, help="the log's SQLite file")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    arguments = parser().parse_args(argv)
    logger.remove()  # the application owns the sinks: drop loguru's default one
    if not arguments.quiet:
        enable_logging(sys.stderr, level="INFO")
    try:
        if arguments.command == "verify":
            return asyncio.run(verify(arguments.db))
        return asyncio.run(demo(arguments.db, getattr(arguments, "orders", 3)))
    except SagalogError as error:
        print(f"sagalog: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sagalog: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
