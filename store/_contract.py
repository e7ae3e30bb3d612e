"""The store contract: what every backend offers, as typing Protocols, synchronous first.

Every caller of a store is a thread (an actor, a command, a history tool), so the
contract is blocking calls; asyncio code uses :class:`sagalog.store.AsyncEventStore`, a
thin face over the same core. A backend is a class that satisfies
:class:`EventStoreProtocol` (and so :class:`LogReaderProtocol`, its reading half), and
one line in :func:`sagalog.store.open_store`. ``tests/store/contract/`` runs the same
suite against every backend and tells a new one what it got wrong.

What the contract guarantees, whatever the backend:
- positions are global, gapless and start at 1; stream versions start at 1; every
  ``from_*`` argument is inclusive;
- an append is all or nothing, checks its expected version, and is idempotent for event
  ids already recorded with the same content;
- a checkpoint moves in the same transaction as the appends it is given with, and never
  moves backwards;
- a subscription delivers the past, then live appends (of this process and of others on
  the same log), in position order, with no gap and no duplicate;
- each record's hash chains to the one before, and :meth:`verify` names the first break;
- the runs table holds neutral facts per correlation id; what a status is comes from the
  :class:`RunStatusHook` the layer above hands to the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol, Self, runtime_checkable
from uuid import UUID

from sagalog.store._expected import ANY, ExpectedVersion

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message, Registry
    from sagalog.store._append import AppendRequest, Checkpoint
    from sagalog.store._verify import VerifyReport

__all__ = [
    "EventStoreProtocol",
    "LogReaderProtocol",
    "RawRecord",
    "RunFacts",
    "RunPage",
    "RunQuery",
    "RunStatusHook",
    "SubscriptionProtocol",
    "Types",
]

Types = Iterable["type[Message] | str"] | None
"""Message types to read: classes or registered names; None reads every type."""


class RawRecord(NamedTuple):
    """One record as stored, undecoded: what export, verify and a raw ``show`` read.

    A record whose type this code does not know can still be shown and exported, and the
    hash chain is checked over exactly these values.
    """

    position: int
    stream_id: str
    stream_version: int
    event_id: bytes
    """The 16 bytes of the UUID."""
    type: str
    version: int
    recorded_at: str
    """ISO 8601, UTC, microseconds: as stored and hashed."""
    correlation_id: str | None
    causation_id: bytes | None
    data: str
    """The message's canonical JSON, as stored and hashed."""
    hash: bytes
    """SHA-256 over the previous record's hash and this record's columns."""


class RunFacts(NamedTuple):
    """What the store knows of one run (one correlation id), kept with every commit."""

    correlation_id: str
    first_position: int
    first_type: str
    """The type of the run's first record: its start message, which says its kind."""
    started: str
    """``recorded_at`` of the first record (ISO 8601, UTC)."""
    last_position: int
    last_type: str
    ended: str
    """``recorded_at`` of the last record so far."""
    events: int
    """How many records carry this correlation id."""
    status: str | None
    """The last status the :class:`RunStatusHook` gave for a record of this run; None if
    it gave none (or no hook was installed when its records were written)."""
    status_position: int | None
    """The position of the record that gave :attr:`status`."""


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Which runs to read, newest first (by first position)."""

    statuses: frozenset[str | None] | None = None
    """Only runs whose status is one of these (None in the set: runs with no status)."""
    first_types: frozenset[str] | None = None
    """Only runs started by one of these types (a kind is a set of start types)."""
    since: str | None = None
    """Only runs started at or after this time (ISO 8601, UTC)."""
    limit: int = 100
    """At most this many (0: all)."""


class RunPage(NamedTuple):
    """Runs answering a :class:`RunQuery`, and how many answer it in all."""

    runs: list[RunFacts]
    total: int


@dataclass(frozen=True, slots=True)
class RunStatusHook:
    """How the layer above turns records into run statuses; the store knows no sagas.

    The store calls :attr:`status` for each appended record whose type is in
    :attr:`types` and keeps the last non-None answer per correlation id, in the same
    transaction. Hooks combine: a store holds several (one per saga definition, say), and
    the first that answers for a record wins. Hooks belong to the store that installed
    them; a run's status is kept by the log, so the processes writing a log should install
    the same hooks (the runtime installs its actors'). A read-only store uses the hooks it
    was opened with only to read a log written by an older sagalog.
    """

    types: frozenset[str]
    """The record types the hook reads (a store scans only these to fill statuses)."""
    status: Callable[[Envelope[Message]], str | None] = field(compare=False)
    """A record's status for its run, or None when the record says nothing about it. It
    must only read the record it is given. One that raises (or answers something not a
    str) is logged and gives that record no status: the append succeeds all the same."""
    name: str
    """Who installed it, for messages and to install it only once (required: a store
    keeps one hook per name)."""


@runtime_checkable
class SubscriptionProtocol(Protocol):
    """Records from a position on: the past, then live appends; blocking, one thread."""

    @property
    def next_position(self) -> int:
        """The position the next record will have at least; everything before is seen."""
        ...

    def next_batch(self, limit: int = 500, timeout: float | None = None) -> list[Envelope[Message]]:
        """Up to ``limit`` next records, waiting up to ``timeout`` s; [] on timeout or close."""
        ...

    @property
    def closed(self) -> bool:
        """Closed, or its store is: ``next_batch`` returns [] from now on."""
        ...

    def close(self) -> None:
        """Stop; a ``next_batch`` blocked on another thread returns [] promptly."""
        ...

    def __iter__(self) -> Iterator[Envelope[Message]]: ...


@runtime_checkable
class LogReaderProtocol(Protocol):
    """The reading half of a store: everything a read-only tool needs."""

    @property
    def target(self) -> str:
        """What the store was opened from (a path or URL), for messages."""
        ...

    @property
    def read_only(self) -> bool:
        """Whether nothing can be written through this store."""
        ...

    @property
    def registry(self) -> Registry:
        """The message registry records are decoded with."""
        ...

    def last_position(self) -> int:
        """The position of the last record, 0 if the log is empty."""
        ...

    def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last record, 0 if it has none."""
        ...

    def read_all(self, from_position: int = 1, *, types: Types = None
                 ) -> Iterator[Envelope[Message]]:
        """The log from ``from_position`` on, in position order, a page at a time."""
        ...

    def read_page(self, from_position: int, limit: int, *, types: Types = None
                  ) -> list[Envelope[Message]]:
        """Up to ``limit`` records from ``from_position`` on: one page, for bulk readers."""
        ...

    def read_raw(self, from_position: int, limit: int) -> list[RawRecord]:
        """Up to ``limit`` records from ``from_position`` on, as stored (undecoded)."""
        ...

    def read_stream(self, stream_id: str, from_version: int = 1
                    ) -> Iterator[Envelope[Message]]:
        """One stream's records from ``from_version`` on, in order."""
        ...

    def read_correlation(self, correlation_id: str, from_position: int = 1
                         ) -> Iterator[Envelope[Message]]:
        """One run's records (all its streams) from ``from_position`` on, in order."""
        ...

    def read_position(self, position: int) -> Envelope[Message] | None:
        """The record at ``position``, or None."""
        ...

    def read_event(self, event_id: UUID) -> Envelope[Message] | None:
        """The record with ``event_id``, or None."""
        ...

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before ``moment`` (0 if none was)."""
        ...

    def checkpoint(self, name: str) -> int:
        """Subscriber ``name``'s position, 0 if it has none."""
        ...

    def checkpoints(self) -> dict[str, int]:
        """Every subscriber's position, by name (the actors that wrote the log)."""
        ...

    def runs(self, query: RunQuery) -> RunPage:
        """The runs that answer ``query``, newest first, and how many do."""
        ...

    def run(self, correlation_id: str) -> RunFacts | None:
        """One run's facts, or None if no record carries ``correlation_id``."""
        ...

    def metadata(self) -> dict[str, str]:
        """The log's own notes (a bundle's source, say): text keys to text values."""
        ...

    def subscribe(self, from_position: int = 1, *, types: Types = None
                  ) -> SubscriptionProtocol:
        """A subscription from ``from_position`` on (see :class:`SubscriptionProtocol`)."""
        ...

    def wait_for_commit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a commit of this process; False if none came."""
        ...

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check the hash chain and positions (and the backend's own integrity check)."""
        ...

    def close(self) -> None:
        """Release the store's connections and threads; idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


@runtime_checkable
class EventStoreProtocol(LogReaderProtocol, Protocol):
    """A log you append to: the reading half, appends, checkpoints, the worker lock."""

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
        """Append ``messages`` to one stream, atomically; return their records."""
        ...

    def append_all(
        self,
        requests: Sequence[AppendRequest],
        *,
        checkpoint: Checkpoint | None = None,
        want_records: bool = True,
    ) -> list[list[Envelope[Message]]]:
        """Append to several streams and move a checkpoint, all in one transaction."""
        ...

    def append_stream(
        self,
        batches: Iterable[Sequence[AppendRequest]],
        *,
        checkpoints: dict[str, int] | None = None,
        expected_position: int | None = None,
    ) -> int:
        """Append every batch in ONE transaction (an import); all or nothing.

        Returns how many records were new. ``checkpoints`` move in the same transaction.
        ``batches`` is iterated on the caller's thread: anything it raises, Ctrl-C
        included, rolls the transaction back and is raised here. With
        ``expected_position``, the log must end there when the transaction begins, or
        nothing is written (:class:`WrongExpectedPositionError`): positions computed
        before the import (an import's checkpoints) are then the ones the records take.
        """
        ...

    def set_checkpoint(self, name: str, position: int) -> None:
        """Move subscriber ``name`` to ``position`` (never backwards)."""
        ...

    def set_metadata(self, key: str, value: str) -> None:
        """Record one of the log's own notes (see :meth:`metadata`)."""
        ...

    def add_run_status(self, hook: RunStatusHook) -> None:
        """Install a hook that gives runs their status from now on (once per name).

        Runs whose records were written before, without it, get their status filled the
        next time the store writes.
        """
        ...

    def worker_lock(self, owner: str) -> AbstractContextManager[None]:
        """Hold the log's worker lock for the ``with`` block (one handler-running runtime).

        Raises:
            WorkerBusyError: another runtime holds it; the message names the holder.

        """
        ...
