"""Subscriptions for asyncio code: the blocking subscription, awaited.

There is one way records reach a subscriber (:class:`SyncSubscription`: catch-up, then the
writer's pushes and polls). This face runs its ``next_batch`` in a worker thread, in
slices of at most :data:`SLICE_S`, so a cancelled task frees that thread within a slice.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from sagalog.store._errors import StoreClosedError

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message
    from sagalog.store._contract import SubscriptionProtocol

__all__ = ["SLICE_S", "Subscription"]

SLICE_S = 0.5
"""Longest a worker thread blocks for one awaited ``next_batch``."""


class Subscription:
    """An async iterator over the log from a position, catch-up then live.

    Example::

        async for record in store.subscribe(from_position=checkpoint + 1):
            handle(record)
    """

    def __init__(self, inner: SubscriptionProtocol, page_size: int = 500) -> None:
        self._inner = inner
        self._page_size = page_size
        self._buffer: deque[Envelope[Message]] = deque()
        self._closed = False

    @property
    def next_position(self) -> int:
        """The position the next record will have at least."""
        if self._buffer:
            return self._buffer[0].position
        return self._inner.next_position

    def close(self) -> None:
        """Stop the subscription; a pending or later ``__anext__`` ends the iteration."""
        self._closed = True
        self._inner.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Envelope[Message]:
        while not self._buffer:
            if self._closed or self._inner.closed:
                raise StopAsyncIteration
            try:
                self._buffer.extend(await self.next_batch(self._page_size, timeout=None))
            except StoreClosedError:
                raise StopAsyncIteration from None
        return self._buffer.popleft()

    async def next_batch(
        self,
        limit: int,
        timeout: float | None,  # noqa: ASYNC109 - a deadline that returns [] is the API
    ) -> list[Envelope[Message]]:
        """Up to ``limit`` next records; waits for new ones up to ``timeout`` seconds.

        Returns an empty list when ``timeout`` passes with nothing new, or when closed.
        """
        if self._buffer:
            count = min(limit, len(self._buffer))
            return [self._buffer.popleft() for _ in range(count)]
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._closed and not self._inner.closed:
            wait = SLICE_S if deadline is None else max(0.0, min(SLICE_S, deadline - loop.time()))
            page = await asyncio.to_thread(self._inner.next_batch, limit, wait)
            if page or (deadline is not None and loop.time() >= deadline):
                return page
        return []
