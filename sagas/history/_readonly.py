"""The log read through a connection that cannot write, with the store's reading calls.

``SyncEventStore.open`` opens read-write: closing its last connection checkpoints the
WAL into the database and deletes the ``-wal`` file, which a read-only command must not
do. :class:`ReadOnlyLog` answers the three calls ``at`` and ``what-if`` need
(``last_position``, ``checkpoints``, ``read_all``) on an ``?mode=ro`` connection, a page
at a time, decoding through the public registry (so old versions are upcast as usual).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, Self
from uuid import UUID

from events import Envelope, Message, registry
from sagas.history._runs import open_read_only

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

__all__ = ["LogReaderProtocol", "ReadOnlyLog"]

_PAGE = 2000
_COLUMNS = ("position, stream_id, stream_version, event_id, type, version, recorded_at, "
            "correlation_id, causation_id, data")


class LogReaderProtocol(Protocol):
    """What ``at`` and ``what-if`` read: a :class:`SyncEventStore` or a :class:`ReadOnlyLog`."""

    def last_position(self) -> int: ...

    def checkpoints(self) -> dict[str, int]: ...

    def read_all(
        self, from_position: int = 0, *, types: Iterable[type[Message] | str] | None = None
    ) -> Iterator[Envelope[Message]]: ...


class ReadOnlyLog:
    """A sagalog file opened so that nothing can be written to it (nor its WAL checkpointed)."""

    def __init__(self, path: str | Path) -> None:
        self.connection = open_read_only(path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.connection.close()

    def last_position(self) -> int:
        """The newest record's position (0 for an empty log)."""
        (last,) = self.connection.execute("SELECT max(position) FROM events").fetchone()
        return int(last or 0)

    def checkpoints(self) -> dict[str, int]:
        """Each consumer's checkpoint by name."""
        return dict(self.connection.execute("SELECT name, position FROM checkpoints"))

    def read_all(
        self, from_position: int = 0, *, types: Iterable[type[Message] | str] | None = None
    ) -> Iterator[Envelope[Message]]:
        """The records from ``from_position`` on (of ``types``, if given), in position order."""
        names = None if types is None else sorted(
            {kind if isinstance(kind, str) else kind.message_type for kind in types})
        where = "" if names is None else f" AND type IN ({', '.join('?' * len(names))})"
        query = (f"SELECT {_COLUMNS} FROM events WHERE position >= ?{where} "  # noqa: S608
                 "ORDER BY position LIMIT ?")
        position = from_position
        while True:
            rows = self.connection.execute(query, (position, *(names or ()), _PAGE)).fetchall()
            for row in rows:
                yield _envelope(row)
            if len(rows) < _PAGE:
                return
            position = rows[-1][0] + 1


def _envelope(row: Any) -> Envelope[Message]:  # noqa: ANN401 - a sqlite3 row
    (position, stream_id, stream_version, event_id, type_name, version, recorded_at,
     correlation_id, causation_id, data) = row
    message = registry.decode(type_name, version, data, position=position, stream_id=stream_id)
    cause = UUID(bytes=causation_id) if causation_id is not None else None
    return Envelope(position, stream_id, stream_version, UUID(bytes=event_id), type_name,
                    version, datetime.fromisoformat(recorded_at), correlation_id, cause, message)
