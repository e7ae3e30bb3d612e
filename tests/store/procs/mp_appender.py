"""Multi-process child: append to a store shared with other processes, then report.

Usage: mp_appender.py PATH PROC MODE [ARGS...]

The child opens the store, prints ``ready``, and waits for a ``go`` line on stdin so that
all children start appending at the same moment. It then runs MODE with two concurrent
asyncio tasks and prints one line ``done <json>`` holding what each append returned and
every exception any append raised (its traceback); exits 0 if none, 1 otherwise.

Modes:
    any SINGLES BIGS   SINGLES one-event appends, a third of them to stream ``shared``
                       and the rest to ``p{PROC}-{n}``; BIGS 20-event appends,
                       alternately to ``shared`` and ``p{PROC}-big``; all with ANY.
    exact APPENDS      APPENDS appends of one or two events to stream ``counter``, each
                       with the exact version this task last saw, retried on
                       WrongExpectedVersionError with the version the error reports.
"""

import asyncio
import json
import sys
import traceback

from sagalog.events import Event
from sagalog.store import ANY, AsyncEventStore, WrongExpectedVersionError

TASKS = 2
BIG = 20
MAX_RETRIES = 100_000


class MpEvent(Event, name="test.mp.Appended"):
    proc: int
    job: int
    index: int


def jobs_any(proc: int, singles: int, bigs: int) -> list[tuple[str, int]]:
    """(stream, size) per job, the big appends spread among the single ones."""
    jobs = [("shared" if j % 3 == 0 else f"p{proc}-{j % 4}", 1) for j in range(singles)]
    every = max(1, singles // max(1, bigs))
    for b in range(bigs):
        stream = "shared" if b % 2 == 0 else f"p{proc}-big"
        jobs.insert(min(len(jobs), (b + 1) * every + b), (stream, BIG))
    return jobs


async def run_any(store, proc, singles, bigs, acks, errors):
    jobs = list(enumerate(jobs_any(proc, singles, bigs)))

    async def worker():
        while jobs:
            job, (stream, size) = jobs.pop(0)
            events = [MpEvent(proc=proc, job=job, index=i) for i in range(size)]
            try:
                records = await store.append(stream, events, expected_version=ANY)
            except Exception:
                errors.append(traceback.format_exc())
                continue
            acks.append([job, stream, records[0].position, records[0].stream_version, size])

    await asyncio.gather(*(worker() for _ in range(TASKS)))
    return {}


async def run_exact(store, proc, appends, acks, errors):
    retries = 0
    next_job = iter(range(appends))

    async def worker():
        nonlocal retries
        known = 0
        for job in next_job:
            size = 1 + job % 2
            events = [MpEvent(proc=proc, job=job, index=i) for i in range(size)]
            while True:
                try:
                    records = await store.append("counter", events, expected_version=known)
                except WrongExpectedVersionError as error:
                    retries += 1
                    if retries > MAX_RETRIES:
                        errors.append(f"gave up after {retries} retries: {error!r}")
                        return
                    known = error.actual
                    continue
                except Exception:
                    errors.append(traceback.format_exc())
                    break
                known = records[-1].stream_version
                acks.append([job, "counter", records[0].position, records[0].stream_version, size])
                break

    await asyncio.gather(*(worker() for _ in range(TASKS)))
    return {"retries": retries}


async def main(path: str, proc: int, mode: str, args: list[int]) -> int:
    acks: list[list] = []
    errors: list[str] = []
    extra = {}
    loop = asyncio.get_running_loop()
    try:
        async with AsyncEventStore.open(path, durability="full") as store:
            sys.stdout.write("ready\n")
            sys.stdout.flush()
            go = await loop.run_in_executor(None, sys.stdin.readline)
            if go.strip() != "go":
                errors.append(f"expected 'go' on stdin, got {go!r}")
            elif mode == "any":
                extra = await run_any(store, proc, args[0], args[1], acks, errors)
            elif mode == "exact":
                extra = await run_exact(store, proc, args[0], acks, errors)
            else:
                errors.append(f"unknown mode {mode!r}")
    except Exception:
        errors.append(traceback.format_exc())
    sys.stdout.write("done " + json.dumps({"acks": acks, "errors": errors, **extra}) + "\n")
    sys.stdout.flush()
    return 1 if errors else 0


if __name__ == "__main__":
    numbers = [int(arg) for arg in sys.argv[4:]]
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], numbers)))
