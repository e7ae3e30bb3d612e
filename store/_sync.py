"""A blocking facade over the async store, for code on plain threads (the pykka actors).

Like aiosqlite's own design, one owner thread runs an event loop with the store on it;
callers submit coroutines with ``run_coroutine_threadsafe`` and block on the future.
Reads come back a page at a time, so one cross-thread hop serves hundreds of records.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar
from uuid import UUID

from sagalog.store._append import AppendRequest, Checkpoint
from sagalog.store._blocking import SyncSubscription
from sagalog.store._errors import StoreClosedError, StoreError
from sagalog.store._expected import ANY, ExpectedVersion
from sagalog.store._sqlite import Durability, SqliteEventStore

if TYPE_CHECKING:
    from datetime import datetime

    from sagalog.events import Envelope, Message, Registry
    from sagalog.store._verify import VerifyReport

__all__ = ["SyncEventStore"]

T = TypeVar("T")
_PAGE = 1000


class SyncEventStore:
    """The store's operations as blocking calls, safe to use from any thread.

    Example::

        with SyncEventStore.open("app.db") as store:
            store.append("order-1", [OrderPlaced(order_id="1")])
            for record in store.read_all():
                print(record.position, record.type)
    """

    def __init__(self, store: SqliteEventStore, loop: asyncio.AbstractEventLoop,
                 thread: threading.Thread) -> None:
        """Use :meth:`open`."""
        self.store = store
        """The async store, for code running on :attr:`loop`."""
        self.loop = loop
        """The event loop the store runs on (its own thread)."""
        self._thread = thread
        self._closed = False

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        durability: Durability = "full",
        registry: Registry | None = None,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float = 0.05,
        read_only: bool = False,
    ) -> SyncEventStore:
        """Start the owner thread and open the store on it; raises what the store raises.

        ``read_only`` opens an existing log that nothing may write to (see
        :meth:`SqliteEventStore.open`).
        """
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="sagalog-store", daemon=True)
        thread.start()
        future = asyncio.run_coroutine_threadsafe(
            SqliteEventStore.connect(
                path, durability=durability, registry=registry, clock=clock,
                poll_interval=poll_interval, read_only=read_only,
            ),
            loop,
        )
        try:
            store = future.result()
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        return cls(store, loop, thread)

    def close(self) -> None:
        """Commit what is queued, close the store, and stop the owner thread."""
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self.store.close(), self.loop).result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
            self.loop.close()

    @property
    def read_only(self) -> bool:
        """Opened with ``read_only=True``: nothing can be written through it."""
        return self.store.read_only

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the store's loop and block until it is done."""
        return self.submit(coroutine).result()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run ``coroutine`` on the store's loop; return its future without blocking."""
        if self._closed:
            coroutine.close()
            msg = "the event store is closed"
            raise StoreClosedError(msg)
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def append(
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
        """See :meth:`SqliteEventStore.append`."""
        request = AppendRequest(
            stream_id, messages, expected_version, correlation_id, causation_id, event_ids
        )
        (records,) = self.store.append_all_blocking([request], checkpoint=checkpoint)
        return records

    def append_all(
        self,
        requests: Sequence[AppendRequest],
        *,
        checkpoint: Checkpoint | None = None,
        want_records: bool = True,
    ) -> list[list[Envelope[Message]]]:
        """See :meth:`SqliteEventStore.append_all_blocking`: straight to the writer thread."""
        if self._closed:
            msg = "the event store is closed"
            raise StoreClosedError(msg)
        return self.store.append_all_blocking(
            requests, checkpoint=checkpoint, want_records=want_records
        )

    def append_stream(self, batches: Iterable[Sequence[AppendRequest]]) -> int:
        """See :meth:`SqliteEventStore.submit_stream`: blocks until COMMIT; returns the count.

        Interrupted while it waits (Ctrl-C), the transaction is rolled back at the next
        batch, so an interrupted import writes nothing (closing the store waits for that).
        """
        if self._closed:
            msg = "the event store is closed"
            raise StoreClosedError(msg)
        interrupted = threading.Event()

        def until_interrupted() -> Iterator[Sequence[AppendRequest]]:
            for batch in batches:
                if interrupted.is_set():
                    msg = "the append was interrupted; nothing was written"
                    raise StoreError(msg)
                yield batch

        future = self.store.submit_stream(until_interrupted())
        try:
            return future.result()
        except BaseException:
            interrupted.set()
            raise

    def set_checkpoint(self, name: str, position: int) -> None:
        """See :meth:`SqliteEventStore.set_checkpoint`."""
        self.append_all([], checkpoint=Checkpoint(name, position))

    def checkpoint(self, name: str) -> int:
        """See :meth:`SqliteEventStore.checkpoint`."""
        return self.call(self.store.checkpoint(name))

    def stream_version(self, stream_id: str) -> int:
        """See :meth:`SqliteEventStore.stream_version`."""
        return self.call(self.store.stream_version(stream_id))

    def last_position(self) -> int:
        """See :meth:`SqliteEventStore.last_position`."""
        return self.call(self.store.last_position())

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """See :meth:`SqliteEventStore.verify`."""
        return self.call(self.store.verify(progress))

    def read_stream(self, stream_id: str, from_version: int = 0) -> Iterator[Envelope[Message]]:
        """See :meth:`SqliteEventStore.read_stream`."""
        version = from_version
        while True:
            page = self.call(self.store.read_stream_page(stream_id, version, _PAGE))
            yield from page
            if len(page) < _PAGE:
                return
            version = page[-1].stream_version + 1

    def read_correlation(self, correlation_id: str) -> Iterator[Envelope[Message]]:
        """See :meth:`SqliteEventStore.read_correlation`: every record of one saga or run."""
        position = 0
        while True:
            page = self.call(self.store.read_correlation(correlation_id, position, _PAGE))
            yield from page
            if len(page) < _PAGE:
                return
            position = page[-1].position + 1

    def read_position(self, position: int) -> Envelope[Message] | None:
        """See :meth:`SqliteEventStore.read_position`."""
        return self.call(self.store.read_position(position))

    def read_event(self, event_id: UUID) -> Envelope[Message] | None:
        """See :meth:`SqliteEventStore.read_event`."""
        return self.call(self.store.read_event(event_id))

    def checkpoints(self) -> dict[str, int]:
        """See :meth:`SqliteEventStore.checkpoints`."""
        return self.call(self.store.checkpoints())

    def read_all(
        self, from_position: int = 0, *, types: Iterable[type[Message] | str] | None = None
    ) -> Iterator[Envelope[Message]]:
        """See :meth:`SqliteEventStore.read_all`."""
        wanted = None if types is None else list(types)
        position = from_position
        while True:
            page = self.call(self.store.read_page(position, _PAGE, types=wanted))
            yield from page
            if len(page) < _PAGE:
                return
            position = page[-1].position + 1

    def subscribe(
        self, from_position: int = 0, *, types: Iterable[type[Message] | str] | None = None
    ) -> SyncSubscription:
        """See :meth:`SqliteEventStore.subscribe_blocking`: reads on the calling thread."""
        if self._closed:
            msg = "the event store is closed"
            raise StoreClosedError(msg)
        return self.store.subscribe_blocking(from_position, types=types)
