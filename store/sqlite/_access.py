"""How a log is opened for reading, and whether it may be written, judged where it lies.

SQLite reads a WAL-mode database (every sagalog log) with two files beside it: the
write-ahead log ``-wal``, holding the commits not yet copied into the database file, and
its index ``-shm``, which every connection maps and the first one creates. In a folder
that cannot be written (a read-only mount, a backup, a CI artifact, a log attached to a
ticket) a plain ``mode=ro`` connection cannot create the ``-shm``, and SQLite says only
"unable to open database file". So :func:`read_only_uri` chooses how to open the file
from what lies beside it, once, for every reader (the store opened read-only, the history
tools, ``list``, ``tail``):

- a writable folder: ``mode=ro``; SQLite creates the ``-wal`` and ``-shm`` it lacks and
  never writes the log;
- a read-only folder with no ``-wal``, or an empty one: ``mode=ro&immutable=1``; the
  database file holds the whole log, and SQLite needs nothing beside it;
- a read-only folder with a ``-wal`` and a readable ``-shm``: ``mode=ro``; SQLite 3.22 and
  later read a WAL through an index they may not write;
- a read-only folder with a ``-wal`` holding commits but no ``-shm``: nothing can read the
  commits here, so :class:`UnreadableLogError` says so and what to do.

Each case is checked with real read-only bind mounts in ``tests/store/test_read_only_mount.py``
(on SQLite 3.40.1: a plain ``mode=ro`` fails in the first, second and fourth read-only
cases; ``immutable=1`` in the fourth silently misses the commits in the ``-wal``).

:func:`check_writable` is the writers' side: SQLite opens a database it may not write
read-only, without a word, and fails at the first write; a writer is refused up front.
POSIX only (``os.statvfs``), as the rest of sagalog (``fcntl``).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sagalog.store._errors import ReadOnlyLogError, StoreError, UnreadableLogError

__all__ = ["check_writable", "log_name", "read_only_uri"]

_READ_ONLY_WAL = (3, 22, 0)
"""The first SQLite that reads a WAL database whose ``-shm`` it may not write."""


def read_only_uri(path: str | os.PathLike[str]) -> str:
    """The ``file:`` URI that opens the log at ``path`` for reading, where it lies.

    A connection opened through it can neither change the log nor checkpoint its WAL
    (closing the last read-write connection folds the WAL into the file and deletes it),
    so the log's files are left byte-for-byte as they were, also while a worker writes.
    A missing file gets the plain ``mode=ro`` URI: the caller reports it.

    Raises:
        StoreError: ``path`` is empty.
        UnreadableLogError: this user may not read one of the log's files, or the folder
            is read-only and the log cannot be read without writing beside it.

    """
    name = log_name(path)
    real = Path(name).resolve()
    uri = f"{real.as_uri()}?mode=ro"
    if not real.is_file():
        return uri
    wal, shm, journal = (_beside(real, suffix) for suffix in ("-wal", "-shm", "-journal"))
    for file in (real, wal):
        _check_readable(name, file)
    folder_cannot = _cannot_write(real.parent)
    if folder_cannot is None:  # SQLite creates a missing -wal or -shm itself
        _check_readable(name, shm)
        return uri
    where = f"its folder {real.parent} {folder_cannot}"
    if _holds_bytes(journal):
        msg = (f"{where}, and {journal.name} holds an interrupted write that SQLite must roll "
               f"back before reading; copy {real.name} and {journal.name} to a writable "
               "folder and read it there")
        raise UnreadableLogError(name, msg)
    if wal.exists() and shm.exists() and os.access(shm, os.R_OK):
        if sqlite3.sqlite_version_info < _READ_ONLY_WAL:
            msg = (f"{where}, and SQLite {sqlite3.sqlite_version} cannot read a write-ahead "
                   "log whose index it may not write (3.22 and later can); copy "
                   f"{real.name}, {wal.name} and {shm.name} to a writable folder")
            raise UnreadableLogError(name, msg)
        return uri  # read-only WAL: SQLite reads the index without writing it
    if _holds_bytes(wal):
        msg = (f"{where}, and {wal.name} holds commits not yet in {real.name}, which SQLite "
               f"reads through an index ({shm.name}) it cannot create here; copy "
               f"{real.name} and {wal.name} to a writable folder, or open it where it "
               "was written")
        raise UnreadableLogError(name, msg)
    # No -wal holds a commit, so the database file alone is the whole log. immutable=1
    # tells SQLite the file cannot change: it takes no locks and opens no -wal or -shm
    # (which it could not create here). Correct only because no -wal with commits lies
    # beside the file (checked just above) and nothing writes in a read-only folder; a
    # connection opened so would not notice a writer that started later.
    return f"{uri}&immutable=1"


def check_writable(path: str | os.PathLike[str]) -> None:
    """Refuse, before SQLite opens it, a log that cannot be written where it lies.

    SQLite opens a database file it may not write read-only, without a word, and fails at
    the first write ("attempt to write a readonly database"), in the middle of a command;
    in a read-only folder it cannot even start ("unable to open database file"). A
    missing folder and ``:memory:`` pass: SQLite reports the one and needs no file for
    the other.

    Raises:
        StoreError: ``path`` is empty.
        ReadOnlyLogError: the file, its ``-wal`` or ``-shm``, or its folder cannot be
            written by this user (a read-only mount, folder or file).

    """
    name = log_name(path)
    if name == ":memory:":
        return
    real = Path(name).resolve()
    if not real.parent.is_dir():
        return
    elsewhere = "copy it to a writable folder to write to it (it can still be read where it is)"
    for file in (real, _beside(real, "-wal"), _beside(real, "-shm")):
        cannot = _cannot_write(file) if file.exists() else None
        if cannot is not None:
            what = "the file" if file == real else file.name
            raise ReadOnlyLogError(name, f"{what} {cannot}; {elsewhere}")
    cannot = _cannot_write(real.parent)
    if cannot is None:
        return
    if not real.exists():
        msg = f"it does not exist, and its folder {real.parent} {cannot}; name a writable folder"
        raise ReadOnlyLogError(name, msg)
    msg = (f"its folder {real.parent} {cannot}, and SQLite writes {real.name}-wal and "
           f"{real.name}-shm there; {elsewhere}")
    raise ReadOnlyLogError(name, msg)


def log_name(path: str | os.PathLike[str]) -> str:
    """``path`` as a string; an empty one is refused (SQLite would open a temporary file)."""
    name = os.fspath(path)
    if not name:
        msg = "the log's path is empty; name its file"
        raise StoreError(msg)
    return name


def _beside(real: Path, suffix: str) -> Path:
    return real.with_name(real.name + suffix)


def _check_readable(name: str, file: Path) -> None:
    if file.exists() and not os.access(file, os.R_OK):
        msg = (f"{file.name} is not readable by this user (permission denied); read it as "
               "its owner, or get read access to it")
        raise UnreadableLogError(name, msg)


def _holds_bytes(file: Path) -> bool:
    try:
        return file.stat().st_size > 0
    except FileNotFoundError:
        return False


def _cannot_write(target: Path) -> str | None:
    """Why ``target`` (a file, or a folder to create files in) cannot be written, or None.

    ``os.access`` answers for this user as the kernel would, root included (root may
    write a file whose mode says read-only, but nothing on a read-only mount).
    """
    wanted = os.W_OK | os.X_OK if target.is_dir() else os.W_OK
    if os.access(target, wanted):
        return None
    if os.statvfs(target).f_flag & os.ST_RDONLY:
        return "is on a read-only file system"
    return "is not writable by this user"
