"""Subscription-test child: append events in two halves, pausing between them.

Usage: sub_appender.py PATH COUNT

Appends COUNT events (appends of 1 to 3 events, from two concurrent asyncio tasks, to
streams ``live-0`` .. ``live-2``) in two halves. After the first half it waits for a
line ``more`` on stdin, so the parent can prove it received the first half while this
process was still alive. At the end it prints ``done <json>``: every appended record as
[position, event_id, stream_id, stream_version, seq], and any error (its traceback).
"""

import asyncio
import json
import sys
import traceback

from sagalog.events import Event
from sagalog.store import ANY, AsyncEventStore


class LiveEvent(Event, name="test.mp.Live"):
    seq: int


async def append_range(store, start, stop, written):
    seqs = list(range(start, stop))

    async def worker():
        while seqs:
            size = min(len(seqs), 1 + len(written) % 3)
            taken = [seqs.pop(0) for _ in range(size)]
            stream = f"live-{taken[0] % 3}"
            records = await store.append(
                stream, [LiveEvent(seq=s) for s in taken], expected_version=ANY
            )
            written.extend(
                [r.position, str(r.event_id), r.stream_id, r.stream_version, r.data.seq]
                for r in records
            )

    await asyncio.gather(worker(), worker())


async def main(path: str, count: int) -> int:
    written: list[list] = []
    errors: list[str] = []
    loop = asyncio.get_running_loop()
    try:
        async with AsyncEventStore.open(path, durability="full") as store:
            half = count // 2
            await append_range(store, 0, half, written)
            sys.stdout.write("half\n")
            sys.stdout.flush()
            more = await loop.run_in_executor(None, sys.stdin.readline)
            if more.strip() != "more":
                errors.append(f"expected 'more' on stdin, got {more!r}")
            else:
                await append_range(store, half, count, written)
    except Exception:
        errors.append(traceback.format_exc())
    sys.stdout.write("done " + json.dumps({"written": written, "errors": errors}) + "\n")
    sys.stdout.flush()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]))))
