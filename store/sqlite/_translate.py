"""SQLite's errors turned into the store's own, at the backend's boundary (chained)."""

from __future__ import annotations

import sqlite3

from sagalog.store._errors import (
    CorruptDatabaseError,
    DatabaseError,
    DiskFullError,
    NotADatabaseError,
    StorageIOError,
)

_SQLITE_IOERR = 10
_SQLITE_FULL = 13

__all__ = ["translate"]


def translate(error: sqlite3.Error, doing: str, *, path: str | None = None) -> DatabaseError:
    """Turn an ``sqlite3`` error raised while ``doing`` into the store's own error."""
    text = str(error)
    primary = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF  # extended codes too
    if primary == _SQLITE_FULL or "database or disk is full" in text:
        return DiskFullError(f"{doing}: the disk is full ({text})", path=path)
    if primary == _SQLITE_IOERR or "disk I/O error" in text:
        return StorageIOError(f"{doing}: an I/O error ({text})", path=path)
    if isinstance(error, sqlite3.DatabaseError) and (
        "not a database" in text or "file is encrypted" in text
    ):
        return NotADatabaseError(f"{doing}: the file is not an SQLite database ({text})", path=path)
    if "malformed" in text or "corrupt" in text:
        return CorruptDatabaseError(f"{doing}: the database is damaged ({text})", path=path)
    return DatabaseError(f"{doing}: {type(error).__name__}: {text}", path=path)
