"""Concurrent-open child: open (creating) the store files the parent names, one by one.

Usage: opener.py

Prints ``ready``, then for each line ``open <path>`` on stdin opens the store at that
path (creating it if new), closes it, and prints ``ok`` or ``err <one-line repr>``.
Exits at end of input.
"""

import asyncio
import sys

from sagalog.store import AsyncEventStore


async def open_once(path: str) -> str:
    try:
        async with AsyncEventStore.open(path, durability="full"):
            pass
    except Exception as error:
        return "err " + repr(error).replace("\n", " ")
    return "ok"


def main() -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        command, _, path = line.strip().partition(" ")
        if command != "open":
            sys.stdout.write(f"err unknown command {line!r}\n")
        else:
            sys.stdout.write(asyncio.run(open_once(path)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
