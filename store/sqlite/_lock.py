"""The worker lock of a SQLite log: ``<log>.worker.lock``, held with ``flock``.

One handler-running runtime per log: two would run every handler twice, and every
effect outside the log with them. The lock is an OS lock on a file beside the log, so
the kernel releases it when the holder dies, even by SIGKILL. ``flock`` locks belong to
an open file description, so a second runtime in the same process is refused too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from sagalog.store._errors import WorkerBusyError
from sagalog.store._faults import storage_fault
from sagalog.store.sqlite._access import check_writable

__all__ = ["file_lock", "memory_lock"]

_MEMORY_HOLDERS: dict[int, str] = {}
_MEMORY_GUARD = threading.Lock()


@contextlib.contextmanager
def file_lock(path: str, owner: str) -> Iterator[None]:
    """Hold ``<path>.worker.lock`` (exclusive) for the ``with`` block.

    The file keeps the holder's PID and ``owner`` for the message a second one gets; it
    is never deleted (a deleted lock file lets two processes lock two different files).

    Raises:
        WorkerBusyError: another runtime holds it; names the log, the PID and the owner.
        ReadOnlyLogError: the log cannot be written where it lies, so neither can its lock.
        DiskFullError, StorageIOError: the lock file could not be written.

    """
    check_writable(path)
    lock = Path(f"{path}.worker.lock")
    with _faults_typed(lock, "creating the worker lock"):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "unknown"
            pid, _, who = holder.partition(" ")
            msg = (f"{path}: a worker is already running on this log (PID {pid}"
                   f"{f', {who}' if who else ''}; lock {lock}); stop it first "
                   f"(kill -TERM {pid}, or Ctrl-C where it runs)")
            raise WorkerBusyError(msg, pid=int(pid) if pid.isdigit() else None,
                                  owner=who or None) from None
        with _faults_typed(lock, "writing the worker lock"):  # a full disk: ENOSPC
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {owner}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


@contextlib.contextmanager
def _faults_typed(lock: Path, doing: str) -> Iterator[None]:
    """A full disk or an I/O error on the lock file as the store's typed fault."""
    try:
        yield
    except OSError as error:
        fault = storage_fault(error, doing, path=lock)
        if fault is None:
            raise
        raise fault from error


@contextlib.contextmanager
def memory_lock(key: int, name: str, owner: str) -> Iterator[None]:
    """The worker lock of a log that lives in this process (``:memory:``)."""
    with _MEMORY_GUARD:
        holder = _MEMORY_HOLDERS.get(key)
        if holder is not None:
            msg = (f"{name}: a worker is already running on this log (PID {os.getpid()}, "
                   f"{holder}); stop it first")
            raise WorkerBusyError(msg, pid=os.getpid(), owner=holder)
        _MEMORY_HOLDERS[key] = owner
    try:
        yield
    finally:
        with _MEMORY_GUARD:
            _MEMORY_HOLDERS.pop(key, None)
