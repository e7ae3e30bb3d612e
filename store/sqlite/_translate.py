"""SQLite's errors turned into the store's own, at the backend's boundary (chained)."""

from __future__ import annotations

import sqlite3

from sagalog.store._errors import CorruptDatabaseError, DatabaseError, NotADatabaseError
from sagalog.store._faults import storage_fault

__all__ = ["translate"]


def translate(error: sqlite3.Error, doing: str, *, path: str | None = None) -> DatabaseError:
    """Turn an ``sqlite3`` error raised while ``doing`` into the store's own error."""
    fault = storage_fault(error, doing, path=path)  # a full disk, an I/O error: see _faults
    if fault is not None:
        return fault
    text = str(error)
    if isinstance(error, sqlite3.DatabaseError) and (
        "not a database" in text or "file is encrypted" in text
    ):
        return NotADatabaseError(f"{doing}: the file is not an SQLite database ({text})", path=path)
    if "malformed" in text or "corrupt" in text:
        return CorruptDatabaseError(f"{doing}: the database is damaged ({text})", path=path)
    return DatabaseError(f"{doing}: {type(error).__name__}: {text}", path=path)
