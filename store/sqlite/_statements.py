"""The SQL of every read, built in one place for the store's two faces.

The synchronous store runs these on the caller's thread; the asyncio face
(:class:`sagalog.store.AsyncEventStore`) runs the same statements through aiosqlite. Each
function returns ``(sql, params)``.
"""

from __future__ import annotations

from typing import Any

from sagalog.store.sqlite._schema import COLUMNS

__all__ = [
    "CHECKPOINTS",
    "HEAD",
    "Statement",
    "by_event",
    "by_position",
    "checkpoint",
    "correlation_page",
    "page",
    "raw_page",
    "stored_bytes_page",
    "stream_page",
    "stream_version",
]

Statement = tuple[str, tuple[Any, ...]]

HEAD: Statement = ("SELECT max(position) FROM events", ())
"""The log's last position (NULL when empty)."""
CHECKPOINTS: Statement = ("SELECT name, position FROM checkpoints ORDER BY name", ())
"""Every subscriber's position."""

_PAGE = f"SELECT {COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?"  # noqa: S608
_RAW = f"SELECT {COLUMNS}, hash FROM events WHERE position >= ? ORDER BY position LIMIT ?"  # noqa: S608
_STREAM = (f"SELECT {COLUMNS} FROM events WHERE stream_id = ? "  # noqa: S608
           "AND stream_version >= ? ORDER BY stream_version LIMIT ?")
_CORRELATION = (f"SELECT {COLUMNS} FROM events WHERE correlation_id = ? "  # noqa: S608
                "AND position >= ? ORDER BY position LIMIT ?")
_POSITION = f"SELECT {COLUMNS} FROM events WHERE position = ?"  # noqa: S608
_EVENT = f"SELECT {COLUMNS} FROM events WHERE event_id = ?"  # noqa: S608


def page(from_position: int, limit: int, names: list[str] | None) -> Statement:
    """Up to ``limit`` records from ``from_position`` on, of ``names`` (None: all types)."""
    if names is None:
        return _PAGE, (_sql_int(from_position), limit)
    marks = ",".join("?" * len(names))
    sql = (f"SELECT {COLUMNS} FROM events WHERE position >= ? AND type IN ({marks}) "  # noqa: S608
           "ORDER BY position LIMIT ?")
    return sql, (_sql_int(from_position), *names, limit)


def raw_page(from_position: int, limit: int) -> Statement:
    """Up to ``limit`` stored rows (the envelope columns, then ``hash``)."""
    return _RAW, (_sql_int(from_position), limit)


_TEXT_COLUMNS = ("stream_id", "type", "recorded_at", "correlation_id", "data")
_BYTES = (f"SELECT {', '.join(f'CAST({c} AS BLOB)' if c in _TEXT_COLUMNS else c for c in COLUMNS.split(', '))}"  # noqa: E501, S608
          ", hash FROM events WHERE position >= ? ORDER BY position LIMIT ?")


def stored_bytes_page(from_position: int, limit: int) -> Statement:
    """As :func:`raw_page`, the text columns as their stored bytes (for ``verify``).

    Python's sqlite3 refuses a text column that is not UTF-8 with an error quoting the
    damaged bytes and naming no record; read as bytes, ``verify`` names the position.
    """
    return _BYTES, (_sql_int(from_position), limit)


def stream_page(stream_id: str, from_version: int, limit: int) -> Statement:
    """Up to ``limit`` records of one stream from ``from_version`` on."""
    return _STREAM, (stream_id, _sql_int(from_version), limit)


def correlation_page(correlation_id: str, from_position: int, limit: int) -> Statement:
    """Up to ``limit`` records of one run from ``from_position`` on."""
    return _CORRELATION, (correlation_id, _sql_int(from_position), limit)


def by_position(position: int) -> Statement:
    """The record at ``position``."""
    return _POSITION, (_sql_int(position),)


def by_event(event_id: bytes) -> Statement:
    """The record with this event id (16 bytes)."""
    return _EVENT, (event_id,)


def stream_version(stream_id: str) -> Statement:
    """The version of the stream's last record (NULL when it has none)."""
    return "SELECT max(stream_version) FROM events WHERE stream_id = ?", (stream_id,)


def checkpoint(name: str) -> Statement:
    """Subscriber ``name``'s position (no row when it has none)."""
    return "SELECT position FROM checkpoints WHERE name = ?", (name,)


def _sql_int(value: int) -> int:
    """SQLite integers are 64-bit: clamp a larger bound, which no record can reach."""
    return max(min(value, 2**63 - 1), -(2**63))
