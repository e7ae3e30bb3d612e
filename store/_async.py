"""The store for asyncio code: a thin face over the synchronous core of any backend.

Every backend is synchronous first (its callers are threads). asyncio code awaits the
same store through :class:`AsyncEventStore`: appends go to the backend's writer without
blocking the loop (SQLite answers them on the caller's loop, no extra thread hop), reads
go through the backend's own async reads where it has them (SQLite: aiosqlite on the same
statements) and through a worker thread otherwise, and subscriptions are the one
subscription, awaited.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, Self
from uuid import UUID

from sagalog.store._errors import StoreClosedError
from sagalog.store._expected import ANY, ExpectedVersion
from sagalog.store._factory import open_store
from sagalog.store._subscription import Subscription
from sagalog.store._types import type_names

if TYPE_CHECKING:
    from datetime import datetime

    from sagalog.events import Envelope, Message, Registry
    from sagalog.store._append import AppendRequest, Checkpoint
    from sagalog.store._contract import (
        EventStoreProtocol,
        RawRecord,
        RunFacts,
        RunPage,
        RunQuery,
        RunStatusHook,
    )
    from sagalog.store._factory import Durability
    from sagalog.store._verify import VerifyReport

__all__ = ["AsyncEventStore"]

_PAGE = 2000


class _AsyncReads(Protocol):
    async def close(self) -> None: ...
    async def last_position(self) -> int: ...
    async def stream_version(self, stream_id: str) -> int: ...
    async def page(self, from_position: int, limit: int, names: list[str] | None
                   ) -> list[Envelope[Message]]: ...
    async def stream_page(self, stream_id: str, from_version: int, limit: int
                          ) -> list[Envelope[Message]]: ...
    async def correlation_page(self, correlation_id: str, from_position: int, limit: int
                               ) -> list[Envelope[Message]]: ...
    async def position(self, position: int) -> Envelope[Message] | None: ...
    async def event(self, event_id: bytes) -> Envelope[Message] | None: ...
    async def raw(self, from_position: int, limit: int) -> list[RawRecord]: ...
    async def checkpoint(self, name: str) -> int: ...
    async def checkpoints(self) -> dict[str, int]: ...


class _ThreadReads:
    """A backend's synchronous reads, each run in a worker thread."""

    def __init__(self, store: EventStoreProtocol) -> None:
        self._store = store

    async def close(self) -> None:
        return None

    async def last_position(self) -> int:
        return await asyncio.to_thread(self._store.last_position)

    async def stream_version(self, stream_id: str) -> int:
        return await asyncio.to_thread(self._store.stream_version, stream_id)

    async def page(self, from_position: int, limit: int, names: list[str] | None
                   ) -> list[Envelope[Message]]:
        return await asyncio.to_thread(self._store.read_page, from_position, limit,
                                       types=names)

    async def stream_page(self, stream_id: str, from_version: int, limit: int
                          ) -> list[Envelope[Message]]:
        def read() -> list[Envelope[Message]]:
            return list(itertools.islice(self._store.read_stream(stream_id, from_version),
                                         limit))

        return await asyncio.to_thread(read)

    async def correlation_page(self, correlation_id: str, from_position: int, limit: int
                               ) -> list[Envelope[Message]]:
        def read() -> list[Envelope[Message]]:
            records = self._store.read_correlation(correlation_id, from_position)
            return list(itertools.islice(records, limit))

        return await asyncio.to_thread(read)

    async def position(self, position: int) -> Envelope[Message] | None:
        return await asyncio.to_thread(self._store.read_position, position)

    async def event(self, event_id: bytes) -> Envelope[Message] | None:
        return await asyncio.to_thread(self._store.read_event, UUID(bytes=event_id))

    async def raw(self, from_position: int, limit: int) -> list[RawRecord]:
        return await asyncio.to_thread(self._store.read_raw, from_position, limit)

    async def checkpoint(self, name: str) -> int:
        return await asyncio.to_thread(self._store.checkpoint, name)

    async def checkpoints(self) -> dict[str, int]:
        return await asyncio.to_thread(self._store.checkpoints)


class AsyncEventStore:
    """Any store, awaited.

    Open it with :meth:`open`::

        async with AsyncEventStore.open("shop.db") as store:   # durability "full"
            await store.append("order-1", [PaymentCharged(order_id="1", amount_cents=500)],
                               expected_version=NO_STREAM, correlation_id="order-1")
            async for record in store.read_stream("order-1"):
                print(record.position, record.type, record.data)
            print(await store.verify())
    """

    def __init__(self, store: EventStoreProtocol, reads: _AsyncReads) -> None:
        """Use :meth:`open` or :meth:`connect`."""
        self.store = store
        """The synchronous store underneath (for code on threads)."""
        self._reads = reads
        self._closed = False

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        target: str | os.PathLike[str],
        *,
        durability: Durability = "full",
        registry: Registry | None = None,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float = 0.05,
        read_only: bool = False,
        run_status: Iterable[RunStatusHook] = (),
    ) -> AsyncIterator[AsyncEventStore]:
        """Open the log at ``target`` (see :func:`sagalog.store.open_store`); close on exit."""
        store = await cls.connect(target, durability=durability, registry=registry,
                                  clock=clock, poll_interval=poll_interval,
                                  read_only=read_only, run_status=run_status)
        try:
            yield store
        finally:
            await store.close()

    @classmethod
    async def connect(
        cls,
        target: str | os.PathLike[str],
        *,
        durability: Durability = "full",
        registry: Registry | None = None,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float = 0.05,
        read_only: bool = False,
        run_status: Iterable[RunStatusHook] = (),
    ) -> AsyncEventStore:
        """Open without a context manager; the caller must :meth:`close` it."""
        hooks = tuple(run_status)

        def opened() -> EventStoreProtocol:
            return open_store(target, read_only=read_only,  # type: ignore[return-value]
                              durability=durability, registry=registry, clock=clock,
                              poll_interval=poll_interval, run_status=hooks)

        store = await asyncio.to_thread(opened)
        return await cls.over(store)

    @classmethod
    async def over(cls, store: EventStoreProtocol) -> AsyncEventStore:
        """The asyncio face of an opened ``store`` (closing the face closes the store)."""
        factory = getattr(store, "async_reads", None)
        reads: _AsyncReads | None = await factory() if factory is not None else None
        return cls(store, reads if reads is not None else _ThreadReads(store))

    async def close(self) -> None:
        """Commit what is queued, then close the store. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._reads.close()
        await asyncio.to_thread(self.store.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def target(self) -> str:
        """What the store was opened from."""
        return self.store.target

    @property
    def path(self) -> str:
        """What the store was opened from (a SQLite file's path)."""
        return self.store.target

    @property
    def read_only(self) -> bool:
        """Whether nothing can be written through it."""
        return self.store.read_only

    @property
    def durability(self) -> str | None:
        """The backend's durability setting, where it has one."""
        return getattr(self.store, "durability", None)

    @property
    def registry(self) -> Registry:
        """The message registry records are decoded with."""
        return self.store.registry

    @property
    def stats(self) -> Any:  # noqa: ANN401 - the backend's counters
        """The backend's writer counters, where it keeps them."""
        return getattr(self.store, "stats", None)

    # -- writing ---------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        messages: Sequence[Message],
        *,
        expected_version: ExpectedVersion = ANY,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
        event_ids: Sequence[UUID] | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[Envelope[Message]]:
        """See :meth:`sagalog.store.SqliteEventStore.append`."""
        from sagalog.store._append import AppendRequest  # noqa: PLC0415

        request = AppendRequest(
            stream_id, messages, expected_version, correlation_id, causation_id, event_ids
        )
        (records,) = await self.append_all([request], checkpoint=checkpoint)
        return records

    async def append_all(
        self, requests: Sequence[AppendRequest], *, checkpoint: Checkpoint | None = None
    ) -> list[list[Envelope[Message]]]:
        """Append to several streams and move a checkpoint, all in one transaction."""
        self._check_open()
        submit = getattr(self.store, "submit_async", None)
        if submit is not None:  # answered on this loop after COMMIT: no thread hop
            outcome: list[list[Envelope[Message]]] = await submit(requests,
                                                                  checkpoint=checkpoint)
            return outcome
        return await asyncio.to_thread(self.store.append_all, requests, checkpoint=checkpoint)

    async def set_checkpoint(self, name: str, position: int) -> None:
        """Move subscriber ``name`` to ``position`` (never backwards)."""
        from sagalog.store._append import Checkpoint  # noqa: PLC0415

        await self.append_all([], checkpoint=Checkpoint(name, position))

    # -- reading ---------------------------------------------------------------------

    async def read_stream(self, stream_id: str, from_version: int = 1
                          ) -> AsyncIterator[Envelope[Message]]:
        """One stream's records from ``from_version`` on (inclusive), in order."""
        version = from_version
        while True:
            page = await self.read_stream_page(stream_id, version, _PAGE)
            for record in page:
                yield record
            if len(page) < _PAGE:
                return
            version = page[-1].stream_version + 1

    async def read_stream_page(self, stream_id: str, from_version: int, limit: int
                               ) -> list[Envelope[Message]]:
        """Up to ``limit`` records of one stream from ``from_version`` on."""
        from sagalog.store._ids import check_id  # noqa: PLC0415

        self._check_open()
        check_id(stream_id)
        return await self._reads.stream_page(stream_id, from_version, limit)

    async def read_all(self, from_position: int = 1, *,
                       types: Iterable[type[Message] | str] | None = None
                       ) -> AsyncIterator[Envelope[Message]]:
        """The whole log from ``from_position`` on (inclusive), a page at a time."""
        names = type_names(types)
        # The next page is fetched while this one is handed out: the reader's thread walks
        # SQLite's b-tree while the caller's loop decodes and consumes (0.82x without).
        fetch = asyncio.ensure_future(self._page(from_position, _PAGE, names))
        try:
            while True:
                page = await fetch
                if len(page) == _PAGE:
                    fetch = asyncio.ensure_future(
                        self._page(page[-1].position + 1, _PAGE, names))
                for record in page:
                    yield record
                if len(page) < _PAGE:
                    return
        finally:
            if not fetch.done():
                fetch.cancel()

    async def read_page(self, from_position: int, limit: int, *,
                        types: Iterable[type[Message] | str] | None = None
                        ) -> list[Envelope[Message]]:
        """Up to ``limit`` records from ``from_position`` on, in one read."""
        return await self._page(from_position, limit, type_names(types))

    async def _page(self, from_position: int, limit: int, names: list[str] | None
                    ) -> list[Envelope[Message]]:
        self._check_open()
        return await self._reads.page(from_position, limit, names)

    async def read_correlation(self, correlation_id: str, from_position: int = 1,
                               limit: int = _PAGE) -> list[Envelope[Message]]:
        """Up to ``limit`` records of one run (all its streams), in position order."""
        from sagalog.store._ids import check_id  # noqa: PLC0415

        self._check_open()
        check_id(correlation_id, "correlation id")
        return await self._reads.correlation_page(correlation_id, from_position, limit)

    async def read_position(self, position: int) -> Envelope[Message] | None:
        """The record at ``position``, or None."""
        self._check_open()
        return await self._reads.position(position)

    async def read_event(self, event_id: UUID) -> Envelope[Message] | None:
        """The record with ``event_id``, or None."""
        self._check_open()
        return await self._reads.event(event_id.bytes)

    async def read_raw(self, from_position: int, limit: int) -> list[RawRecord]:
        """Up to ``limit`` records as stored (undecoded), from ``from_position`` on."""
        self._check_open()
        return await self._reads.raw(from_position, limit)

    async def checkpoints(self) -> dict[str, int]:
        """Every subscriber's position, by name."""
        self._check_open()
        return await self._reads.checkpoints()

    async def checkpoint(self, name: str) -> int:
        """Subscriber ``name``'s position, 0 if it has none."""
        self._check_open()
        return await self._reads.checkpoint(name)

    async def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last record, 0 if it has none."""
        from sagalog.store._ids import check_id  # noqa: PLC0415

        self._check_open()
        check_id(stream_id)
        return await self._reads.stream_version(stream_id)

    async def last_position(self) -> int:
        """The position of the last record, 0 if the log is empty."""
        self._check_open()
        return await self._reads.last_position()

    async def runs(self, query: RunQuery) -> RunPage:
        """See :meth:`LogReaderProtocol.runs`."""
        self._check_open()
        return await asyncio.to_thread(self.store.runs, query)

    async def run(self, correlation_id: str) -> RunFacts | None:
        """See :meth:`LogReaderProtocol.run`."""
        self._check_open()
        return await asyncio.to_thread(self.store.run, correlation_id)

    def subscribe(self, from_position: int = 1, *,
                  types: Iterable[type[Message] | str] | None = None) -> Subscription:
        """Records from ``from_position`` on: the past, then live appends (async iterator)."""
        self._check_open()
        return Subscription(self.store.subscribe(from_position, types=types))

    async def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check the hash chain and the positions (see the backend's ``verify``)."""
        self._check_open()
        return await asyncio.to_thread(self.store.verify, progress)

    async def wait_for_commit(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bounded wait is the point
        """Wait until this store commits something, up to ``timeout`` s; False if none."""
        self._check_open()
        return await asyncio.to_thread(self.store.wait_for_commit, timeout)

    def _check_open(self) -> None:
        if self._closed:
            msg = "the event store is closed"
            raise StoreClosedError(msg)
