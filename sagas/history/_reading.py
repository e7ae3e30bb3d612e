"""Records read straight from a log's file on a read-only connection, and decoded.

The bundle and tail commands read through :func:`open_read_only` rather than the
store: a connection opened with ``mode=ro`` cannot write, and, unlike a read-write one,
never checkpoints the WAL into the database when it is the last to close. So the log's
files stay byte-for-byte as they were, even if its writer has already stopped. (In a
read-only folder it may be ``mode=ro&immutable=1``: see :func:`sagalog.store.read_only_uri`.)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sagalog.events import Envelope

if TYPE_CHECKING:
    from sagalog.events import Message, Registry

__all__ = ["SELECT_RECORDS", "decode_row"]

SELECT_RECORDS = (
    "SELECT position, stream_id, stream_version, event_id, type, version, recorded_at, "
    "correlation_id, causation_id, data FROM events"
)
"""The envelope's columns, in envelope order; add a WHERE clause."""


def decode_row(row: tuple[Any, ...], registry: Registry) -> Envelope[Message]:
    """The envelope of a row of :data:`SELECT_RECORDS` (old versions are upcast).

    Raises:
        UnknownMessageTypeError: no class reads the row's type (names the position).
        InvalidMessageError: the data does not fit its class.

    """
    (position, stream_id, stream_version, event_id, type_name, version, recorded_at,
     correlation_id, causation_id, data) = row
    message = registry.decode(type_name, version, data, position=position, stream_id=stream_id)
    return Envelope(
        position, stream_id, stream_version, UUID(bytes=event_id), type_name, version,
        datetime.fromisoformat(recorded_at), correlation_id,
        None if causation_id is None else UUID(bytes=causation_id), message,
    )
