"""Subscriptions: catch up from a position, then follow the log live.

A subscription pages through the log by position (``WHERE position >= ?``), so it holds
no long read transaction and never buffers more than one page. When it has caught up it
waits for the store's commit signal, which covers appends made through this store, or
for a short poll interval, which covers appends made by other processes on the same
file. SQLite serialises writers and numbers positions in commit order, so a page read
after a commit sees every earlier position: no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sagalog.store._errors import StoreClosedError

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message

__all__ = ["Subscription"]

FetchPage = Callable[[int, int], Awaitable[tuple[list["Envelope[Message]"], int]]]
"""Reads up to ``n`` records from ``position`` on (inclusive); says where to go on from."""


class Subscription:
    """An async iterator over the log from a position, catch-up then live.

    Example::

        async for record in store.subscribe(from_position=checkpoint + 1):
            handle(record)
    """

    def __init__(
        self,
        fetch: FetchPage,
        signal: Callable[[], asyncio.Event],
        from_position: int,
        poll_interval: float,
        page_size: int = 500,
    ) -> None:
        self._fetch = fetch
        self._signal = signal
        self._next = max(from_position, 1)
        self._poll = poll_interval
        self._page_size = page_size
        self._buffer: deque[Envelope[Message]] = deque()
        self._closed = False

    @property
    def next_position(self) -> int:
        """The position the next record will have at least."""
        return self._next

    def close(self) -> None:
        """Stop the subscription; a pending or later ``__anext__`` ends the iteration."""
        self._closed = True

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Envelope[Message]:
        while not self._buffer:
            if self._closed:
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
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        while not self._closed:
            signal = self._signal()  # taken before the read, so no commit is missed
            page, self._next = await self._fetch(self._next, limit)
            if page:
                return page
            wait = self._poll
            if deadline is not None:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return []
                wait = min(wait, left)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), wait)
        return []
