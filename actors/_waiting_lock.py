"""An exclusive OS file lock that waits its turn: how adapters take turns on shared files.

Two handlers of one command (two processes on one configuration, a run re-driven while
its first handler still works) must not interleave on the same output files. ``flock``
on a lock file beside them does it: it belongs to an open file description, so two
threads of one process exclude each other too, and the kernel releases it when the
holder dies, even by SIGKILL. The file keeps the holder's PID and a note (what it is
doing), read back for the log line of a handler that has to wait. It is never deleted (a
deleted lock file lets two processes lock two different files). POSIX only, as the
store's worker lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["waiting_lock"]


@contextlib.contextmanager
def waiting_lock(lock: Path, note: str, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold ``lock`` (exclusive) for the ``with`` block, waiting for it if it is held.

    ``on_wait`` is called with the holder's "PID note" before waiting, to say who is
    waited for. The lock file's directory must exist.
    """
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(os.pread(fd, 256, 0).decode(errors="replace").strip() or "unknown")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {note}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
