"""Which failures are faults of the machine (a full disk, an I/O error), said once for all.

The store's SQLite backend and the adapters that write their own files (the demo ledger,
the jobs database, a pipeline's target) meet the same two faults in two dresses: SQLite's
``SQLITE_FULL`` / ``SQLITE_IOERR`` and the system's ``ENOSPC`` / ``EIO``. Each becomes a
:class:`DiskFullError` or :class:`StorageIOError` naming the file, so whoever meets it
can pause and retry instead of deciding anything from it. Everything else is left to the
caller's own translation (``storage_fault`` answers None).

This module imports no ``sqlite3`` (only the backend may): it reads an SQLite error's
``sqlite_errorcode`` and text, which every ``sqlite3.Error`` carries.

Hazard: on a full disk SQLite does not always say so. Growing the WAL index (``-shm``)
fails with ``SQLITE_IOERR_SHMSIZE``, "disk I/O error" (seen on a full tmpfs at start-up),
so an I/O error on a file whose file system has less than :data:`FULL_BELOW` bytes free
is called a full disk: that is what the user can act on.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from sagalog.store._errors import DiskFullError, StorageFaultError, StorageIOError

__all__ = ["FULL_BELOW", "storage_fault"]

_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_IO_ERRNOS = frozenset({errno.EIO})

FULL_BELOW = 64 * 1024
"""Bytes free under which an I/O error is taken for a full disk (SQLite's WAL index
alone grows by 32 KiB at a time)."""


def storage_fault(
    error: BaseException, doing: str, *, path: str | os.PathLike[str] | None = None
) -> StorageFaultError | None:
    """The typed fault ``error`` is (raised while ``doing``, on ``path``), or None.

    Args:
        error: an ``sqlite3.Error`` or an ``OSError``; anything else is not a fault.
        doing: what was being done, in words ("appending", "opening the ledger").
        path: the file, named in the message (an ``OSError``'s own file name otherwise).

    Returns:
        A :class:`DiskFullError` or :class:`StorageIOError` to raise ``from error``;
        None when ``error`` is not a full disk or an I/O error.

    """
    kind, text = _kind(error)
    if kind is None:
        return None
    where = _where(error, path)
    if kind == "full":
        return DiskFullError(f"{doing}: the disk is full ({text})", path=where)
    return _io_error(doing, text, where)


def _kind(error: BaseException) -> tuple[str | None, str]:
    """``("full" | "io" | None, the error's own words)``."""
    if isinstance(error, OSError):
        text = error.strerror or str(error)
        if error.errno in _FULL_ERRNOS:
            return "full", text
        return ("io" if error.errno in _IO_ERRNOS else None), text
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None, ""
    text = str(error)
    primary = int(code or 0) & 0xFF  # an extended code (SQLITE_IOERR_SHMSIZE) keeps its primary
    if primary == _SQLITE_FULL or "database or disk is full" in text:
        return "full", text
    if primary == _SQLITE_IOERR or "disk I/O error" in text:
        return "io", text
    return None, text


def _io_error(doing: str, text: str, where: str | None) -> StorageFaultError:
    free = _free_bytes(where)
    if free is not None and free < FULL_BELOW:
        return DiskFullError(f"{doing}: the disk is full ({text}; {free} bytes free)",
                             path=where)
    return StorageIOError(f"{doing}: an I/O error ({text})", path=where)


def _where(error: BaseException, path: str | os.PathLike[str] | None) -> str | None:
    """The file to name: the one the system named in an ``OSError``, else ``path``."""
    filename = getattr(error, "filename", None)
    if isinstance(filename, (str, os.PathLike)):
        return os.fspath(filename)
    return None if path is None else os.fspath(path)


def _free_bytes(path: str | None) -> int | None:
    """Bytes free to this user on the file system holding ``path``; None if unknown."""
    if path is None or path == ":memory:":
        return None
    folder = Path(path).resolve().parent
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize
