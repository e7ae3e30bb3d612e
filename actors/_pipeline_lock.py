"""One handler at a time on a pipeline phase's output: an OS file lock beside it.

Two processes can handle the same data pipeline command (two workers on two logs
pointed at one configuration, or a run re-driven while its first handler still works).
The phase adapters are idempotent only one call at a time: interleaved, the second
loader took the first's ``.loading`` marker for a crash and restored the backup under
the first's load, and the collectors replaced each other's ``newest`` and ``backup``
trees. So each adapter call holds ``<output>.lock`` with ``flock`` from its "already
done?" look-up to its last write: a second handler waits, then finds the work recorded
and answers from there.

The lock is per output (the target database, the collector's directory), not per
command key: every command on one output shares its backup, marker and trees, so two
different keys interleave as badly as one key twice. ``flock`` belongs to an open file
description, so two threads of one process exclude each other too, and the kernel
releases it when the holder dies, even by SIGKILL. The file is never deleted (a deleted
lock file lets two processes lock two different files). POSIX only, as the store's
worker lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from loguru import logger

__all__ = ["lock_path", "phase_lock"]


def lock_path(output: Path) -> Path:
    """The lock file of a phase's ``output`` (a file or a directory): ``<output>.lock``."""
    return output.with_name(output.name + ".lock")


@contextlib.contextmanager
def phase_lock(output: Path, key: str, *, actor: str, saga: str) -> Iterator[None]:
    """Hold the lock of ``output`` for the ``with`` block, waiting for it if it is held.

    ``key`` (the command's event id) is written into the file with the PID, so the log
    line of a handler that waits names who it waits for. The directory of ``output``
    must exist.
    """
    lock = lock_path(output)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "unknown"
            logger.bind(actor=actor, saga=saga).info(
                "{} is held by another handler (PID and key: {}); waiting for it before {}",
                lock, holder, key)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {key}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
