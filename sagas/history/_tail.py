"""Following a log live, one readable line per record, while other processes write it.

The follower is a store subscription (:meth:`~sagalog.store.LogReaderProtocol.subscribe`)
on a read-only store: the records after the last one printed, a page at a time, and,
once caught up, the store's own polling for other processes' commits (every
:data:`POLL_S`). It never writes. A filter by type is the subscription's, bounded by the
log's head, so a rare type costs one scan of the new records, not one of the whole log
per poll.

The actor of each record is recovered as :mod:`._producers` does, but for a stream
with no end: candidates are tried most recently matched first, and derived ids are
cached, so a record costs a few hashes (3 us each) rather than one per actor and index.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from sagalog.events import SagalogError, derived_event_id, printable
from sagalog.events import registry as default_registry
from sagalog.sagas.history._producers import EXTERNAL, TIMERS, UNKNOWN
from sagalog.sagas.history._timeline import Entry
from sagalog.store import open_store

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from uuid import UUID

    from sagalog.events import Envelope, Message, Registry
    from sagalog.sagas.history._opening import Log
    from sagalog.store import LogReaderProtocol

__all__ = ["POLL_S", "LogFollower", "TailOptions", "check_types", "fit_width", "tail",
           "tail_line"]

POLL_S = 0.1
"""How often a caught-up follower looks for new records (a query of microseconds)."""

_PAGE = 500
_SPARE_INDEXES = 8  # an actor's outputs of one cause seen before the tail started
_CACHE_LIMIT = 200_000  # derived ids remembered (about 40 MB at most)


class LogFollower:
    """Reads the records of a log after a position, page by page, never writing.

    Example::

        with LogFollower("app.db") as follower:  # from the end, like tail -f
            while True:
                for record in follower.read(timeout=1.0):
                    print(record.position, record.type)
    """

    def __init__(
        self,
        log: Log,
        from_position: int | None = None,
        types: Sequence[str] | None = None,
        registry: Registry | None = None,
    ) -> None:
        """Follow ``log`` from ``from_position``, or from after its last record.

        ``log`` is a store, or a target opened read-only (polled every :data:`POLL_S`,
        its records decoded with ``registry``; a store has its own).
        """
        self._closing = contextlib.ExitStack()
        if isinstance(log, (str, os.PathLike)):
            log = self._closing.enter_context(open_store(
                log, read_only=True, registry=registry, poll_interval=POLL_S))
        self.store: LogReaderProtocol = log
        """The store followed."""
        try:
            start = self.head() + 1 if from_position is None else max(from_position, 1)
            self._subscription = log.subscribe(start, types=list(types) if types else None)
        except BaseException:
            self._closing.close()
            raise
        self._closing.callback(self._subscription.close)

    @property
    def next_position(self) -> int:
        """The position the next record read will have at least."""
        return self._subscription.next_position

    def head(self) -> int:
        """The log's last position (0 if empty)."""
        return self.store.last_position()

    def actor_names(self) -> list[str]:
        """The names of the actors that consume the log (its checkpoints)."""
        return list(self.store.checkpoints())

    def read(self, limit: int = _PAGE, timeout: float = 0.0) -> list[Envelope[Message]]:
        """The next records, up to ``limit``; [] when nothing new came within ``timeout`` s."""
        return self._subscription.next_batch(limit, timeout)

    def close(self) -> None:
        """Stop following; close the store if this follower opened it."""
        self._closing.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _LiveProducers:
    """The actor of each record of an endless stream (see the module docstring)."""

    def __init__(self, load_names: Callable[[], list[str]]) -> None:
        self._load_names = load_names
        self._names = [*load_names(), TIMERS]
        self._loaded = time.monotonic()
        self._cache: dict[UUID, str] = {}
        self._siblings: Counter[UUID] = Counter()

    def of(self, record: Envelope[Message]) -> str:
        cause = record.causation_id
        if cause is None:
            return EXTERNAL
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
            self._siblings.clear()
        self._siblings[cause] += 1
        found = self._cache.get(record.event_id) or self._match(record.event_id, cause)
        if found is None and time.monotonic() - self._loaded > 1.0:
            # An actor that started after us (at most one reload a second: an imported
            # record with a cause but a random id would otherwise reload every time).
            self._names = [*dict.fromkeys([*self._names, *self._load_names()])]
            self._loaded = time.monotonic()
            found = self._match(record.event_id, cause)
        return found or UNKNOWN

    def _match(self, event_id: UUID, cause: UUID) -> str | None:
        width = self._siblings[cause] + _SPARE_INDEXES
        for rank, name in enumerate(self._names):
            for index in range(width):
                derived = derived_event_id(cause, name, index)
                self._cache[derived] = name
                if derived == event_id:
                    self._names.insert(0, self._names.pop(rank))  # most recent first
                    return name
        return None


def tail_line(record: Envelope[Message], actor: str) -> str:
    """One record in one line: position, time, stream, actor, type and a summary.

    A decision's summary is its rule and reason; other data is cut to about 70 characters.
    """
    moment = record.recorded_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    # A field's text may hold line breaks (a config, a traceback) or a terminal's escape
    # sequences (anything appended from outside): one record, one line, shown escaped.
    summary = Entry(record, actor, None).summary()
    return (f"{record.position:>8}  {moment}  {printable(record.stream_id)}  "
            f"{printable(actor)}  {printable(record.type)}: {summary}")


def fit_width(line: str, columns: int) -> str:
    """``line`` cut to ``columns`` terminal cells, the cut marked with "…"; whole if it fits.

    A line longer than the terminal wraps onto the next, and a live tail becomes hard to
    scan. Cells, not characters: an East Asian wide character takes two, a combining mark
    none. A width under 2 (a terminal that reports none) cuts nothing.
    """
    if columns < 2 or (len(line) <= columns and line.isascii()):
        return line
    used = 0
    cut = None  # where the line is cut if it does not fit: the last cell is the "…"
    for index, char in enumerate(line):
        cells = _cells(char)
        if cut is None and used + cells > columns - 1:
            cut = index
        used += cells
        if used > columns:
            return line[:cut] + "…"
    return line


def _cells(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def check_types(names: Sequence[str], registry: Registry = default_registry) -> list[str]:
    """``names`` if each is a registered message type; else an error naming the first not."""
    known = registry.names()
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            msg = f"--types: no message type {name!r}{hint}"
            raise SagalogError(msg)
    return list(names)


@dataclass(frozen=True)
class TailOptions:
    """What ``tail`` follows and when it stops."""

    from_position: int | None = None
    """Replay from this position; None starts after the last record (like ``tail -f``)."""
    types: Sequence[str] | None = None
    """Only records of these types."""
    count: int | None = None
    """Stop after this many records."""
    idle_exit: float | None = None
    """Stop after this many seconds with nothing new."""


def tail(
    log: Log,
    write: Callable[[str], None],
    options: TailOptions,
    stop: threading.Event,
    on_start: Callable[[int], None] = lambda _position: None,
) -> int:
    """Write a line per record of ``log`` until ``stop`` is set or an option ends it.

    Args:
        log: an opened store, or a target opened read-only for the call.
        write: called with each line (the caller flushes it).
        options: where to start, what to show, when to stop.
        stop: set it (e.g. from a signal handler) to stop within :data:`POLL_S`.
        on_start: called with the first position followed, once it is fixed.

    Returns:
        How many records were written.

    """
    written = 0
    with LogFollower(log, options.from_position, options.types) as follower:
        actors = _LiveProducers(follower.actor_names)
        on_start(follower.next_position)
        last_news = time.monotonic()
        while not stop.is_set() and (options.count is None or written < options.count):
            page = follower.read(timeout=POLL_S)
            if options.count is not None:
                page = page[: options.count - written]
            for record in page:
                write(tail_line(record, actors.of(record)))
            written += len(page)
            if page:
                last_news = time.monotonic()
            elif (options.idle_exit is not None
                  and time.monotonic() - last_news >= options.idle_exit):
                break
    return written
