"""Crash-test child: append batches to a store forever, acknowledging each on stdout.

Usage: crash_appender.py PATH FIRST_BATCH TASKS

Several asyncio tasks append concurrently (so the store's group commit puts several
batches in one transaction). Batch ``b`` is ``3 + b % 4`` events appended in one call to
stream ``s{b % 7}``; each event carries its batch number, its index and the batch size.
Only after ``append`` has returned does the child print ``ack <batch> <first> <last>``
(the positions it was given) and flush. The parent SIGKILLs it at a moment of its choosing.
"""

import asyncio
import itertools
import sys

from sagalog.events import Event
from sagalog.store import ANY, AsyncEventStore


class CrashBatchEvent(Event, name="test.crash.Batch"):
    batch: int
    index: int
    size: int


def batch_size(batch: int) -> int:
    return 3 + batch % 4


async def main(path: str, first_batch: int, tasks: int) -> None:
    numbers = itertools.count(first_batch)
    out = sys.stdout

    async with AsyncEventStore.open(path, durability="full") as store:

        async def worker() -> None:
            while True:
                batch = next(numbers)
                size = batch_size(batch)
                events = [CrashBatchEvent(batch=batch, index=i, size=size) for i in range(size)]
                try:
                    records = await store.append(f"s{batch % 7}", events, expected_version=ANY)
                except BaseException as error:
                    out.write(f"error batch {batch}: {type(error).__name__}: {error}\n")
                    out.flush()
                    raise
                out.write(f"ack {batch} {records[0].position} {records[-1].position}\n")
                out.flush()

        await asyncio.gather(*(worker() for _ in range(tasks)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    sys.exit(1)  # the workers never finish; reaching here means one of them failed
