"""The asyncio face of the SQLite backend's reads: aiosqlite, on the same statements.

:class:`sagalog.store.AsyncEventStore` reads a SQLite log through one aiosqlite connection
(its own thread, awaited without blocking the loop), opened by the read-only URI and
running the statements of ``_statements``, so both faces read alike.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import aiosqlite

from sagalog.store._contract import RawRecord
from sagalog.store._decode import decode_rows
from sagalog.store._errors import StoreClosedError
from sagalog.store.sqlite import _statements as sql
from sagalog.store.sqlite._opening import BUSY_TIMEOUT_S
from sagalog.store.sqlite._translate import translate

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message, Registry

__all__ = ["SqliteAsyncReads"]


class SqliteAsyncReads:
    """Reads of one SQLite log, awaited; see :class:`sagalog.store.AsyncEventStore`."""

    def __init__(self, connection: aiosqlite.Connection, path: str, registry: Registry) -> None:
        self._connection = connection
        self._path = path
        self._registry = registry

    @classmethod
    async def connect(cls, uri: str, path: str, registry: Registry) -> SqliteAsyncReads:
        """Open the reading connection by ``uri`` (read-only)."""
        try:
            connection = await aiosqlite.connect(uri, uri=True, isolation_level=None,
                                                 timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as error:
            raise translate(error, "opening the reader", path=path) from error
        return cls(connection, path, registry)

    async def close(self) -> None:
        """Close the connection (and its thread)."""
        await self._connection.close()

    async def _run(self, statement: sql.Statement) -> list[Any]:
        try:
            return list(await self._connection.execute_fetchall(*statement))
        except sqlite3.Error as error:
            raise translate(error, "reading", path=self._path) from error
        except ValueError as error:  # aiosqlite: "Connection closed"
            msg = f"the event store is closed ({error})"
            raise StoreClosedError(msg) from error

    async def _records(self, statement: sql.Statement) -> list[Envelope[Message]]:
        return decode_rows(await self._run(statement), self._registry)

    async def last_position(self) -> int:
        """See :meth:`SqliteEventStore.last_position`."""
        return int((await self._run(sql.HEAD))[0][0] or 0)

    async def stream_version(self, stream_id: str) -> int:
        """See :meth:`SqliteEventStore.stream_version`."""
        return int((await self._run(sql.stream_version(stream_id)))[0][0] or 0)

    async def page(self, from_position: int, limit: int, names: list[str] | None
                   ) -> list[Envelope[Message]]:
        """See :meth:`SqliteEventStore.read_page`."""
        return await self._records(sql.page(from_position, limit, names))

    async def stream_page(self, stream_id: str, from_version: int, limit: int
                          ) -> list[Envelope[Message]]:
        """Up to ``limit`` records of one stream from ``from_version`` on."""
        return await self._records(sql.stream_page(stream_id, from_version, limit))

    async def correlation_page(self, correlation_id: str, from_position: int, limit: int
                               ) -> list[Envelope[Message]]:
        """Up to ``limit`` records of one run from ``from_position`` on."""
        return await self._records(sql.correlation_page(correlation_id, from_position, limit))

    async def position(self, position: int) -> Envelope[Message] | None:
        """See :meth:`SqliteEventStore.read_position`."""
        found = await self._records(sql.by_position(position))
        return found[0] if found else None

    async def event(self, event_id: bytes) -> Envelope[Message] | None:
        """See :meth:`SqliteEventStore.read_event`."""
        found = await self._records(sql.by_event(event_id))
        return found[0] if found else None

    async def raw(self, from_position: int, limit: int) -> list[RawRecord]:
        """See :meth:`SqliteEventStore.read_raw`."""
        return [RawRecord(*row) for row in await self._run(sql.raw_page(from_position, limit))]

    async def checkpoint(self, name: str) -> int:
        """See :meth:`SqliteEventStore.checkpoint`."""
        rows = await self._run(sql.checkpoint(name))
        return int(rows[0][0]) if rows else 0

    async def checkpoints(self) -> dict[str, int]:
        """See :meth:`SqliteEventStore.checkpoints`."""
        return {str(name): int(position) for name, position in await self._run(sql.CHECKPOINTS)}
