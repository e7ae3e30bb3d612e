"""The hash chain that makes the log tamper-evident.

Each record's hash is SHA-256 over the previous record's hash and the record's stored
columns, so changing, removing or reordering any record breaks every hash after it.
SQLite's own integrity check cannot see such an edit: a flipped byte in a payload is a
perfectly well-formed row. :func:`record_hash` is the one definition shared by the
writer and ``verify()``.
"""

from __future__ import annotations

import hashlib

__all__ = ["GENESIS", "record_hash"]

GENESIS = bytes(32)
"""The "previous hash" of the first record."""

_SEP = "\x1f"  # never inside a column: ids refuse control characters, JSON escapes them


def record_hash(  # noqa: PLR0913 - one argument per stored column, by design
    previous: bytes,
    position: int,
    stream_id: str,
    stream_version: int,
    event_id: bytes,
    type_name: str,
    version: int,
    recorded_at: str,
    correlation_id: str | None,
    causation_id: bytes | None,
    data: str,
) -> bytes:
    """The chained hash of one record, as stored in its ``hash`` column."""
    text = _SEP.join(
        (
            str(position),
            stream_id,
            str(stream_version),
            event_id.hex(),
            type_name,
            str(version),
            recorded_at,
            correlation_id or "",
            causation_id.hex() if causation_id else "",
            data,
        )
    )
    return hashlib.sha256(previous + text.encode()).digest()
