"""A bounded hand-off of an import's batches from the caller's thread to the writer's.

``append_stream`` reads its batches where the caller iterates them, so a file being read
(a pipe, a FIFO, a slow disk) blocks the caller's thread, where Ctrl-C lands, never the
writer's: an interrupted import is rolled back at once, whatever it was waiting on. The
caller parses and encodes the next batch while the writer inserts this one, and at most
``depth`` batches wait between them, so memory stays flat however long the stream is.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Final

from sagalog.store._errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sagalog.store._resolve import Pending

_END: Final = object()
"""Put by the caller after its last batch: the writer commits."""
_ABORT: Final = object()
"""Put by the caller that stopped (an error, Ctrl-C): the writer rolls back."""


class Handoff:
    """Batches going one way, and each side's news of the other stopping."""

    def __init__(self, depth: int = 2) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._aborted = threading.Event()
        self._stopped = threading.Event()

    # -- the caller's side ---------------------------------------------------------------

    def give(self, pending: Pending) -> bool:
        """Hand one batch over (waiting for room); False once the writer has stopped."""
        if self._stopped.is_set():
            return False
        self._queue.put(pending)
        return not self._stopped.is_set()

    def finish(self) -> None:
        """No more batches: the writer may commit."""
        if not self._stopped.is_set():
            self._queue.put(_END)

    def abort(self) -> None:
        """The caller stopped early: the writer rolls back, without waiting for room."""
        self._aborted.set()
        try:
            self._queue.put_nowait(_ABORT)
        except queue.Full:
            pass  # the writer is busy with a batch and checks the flag before the next

    # -- the writer's side ---------------------------------------------------------------

    def pendings(self) -> Iterator[Pending]:
        """The batches as they come; raises if the caller aborted (rolling back)."""
        try:
            while True:
                item = self._queue.get()
                if self._aborted.is_set() or item is _ABORT:
                    msg = "the append was interrupted; nothing was written"
                    raise StoreError(msg)
                if item is _END:
                    return
                yield item  # type: ignore[misc]  # anything else is a Pending
        finally:
            self.writer_stopped()

    def writer_stopped(self) -> None:
        """The writer is done with the stream (or never started it): the caller stops.

        Called when the stream ends and when the writer's future is answered, which also
        covers a transaction that failed to begin before the first batch was taken.
        """
        self._stopped.set()
        self._drain()  # a caller waiting for room goes on, sees _stopped and stops

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
