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
different keys interleave as badly as one key twice. The lock itself is
:func:`~sagalog.actors._waiting_lock.waiting_lock`, shared with the ETL downloads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from loguru import logger

from sagalog.actors._waiting_lock import waiting_lock

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

    def waiting(holder: str) -> None:
        logger.bind(actor=actor, saga=saga).info(
            "{} is held by another handler (PID and key: {}); waiting for it before {}",
            lock, holder, key)

    with waiting_lock(lock, key, waiting):
        yield
