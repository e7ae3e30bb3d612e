"""Every saga of a log folded as its saga actor folds it: the base of ``at`` and ``what-if``.

A saga actor handles its definition's event types plus ``StepTimedOut``, ``RetryStep``
and ``HandlerFailed``, keys each record by the saga id (the start's id, otherwise the
record's correlation id) and folds it through :func:`decide`. :class:`SagaFold` does the
same for several definitions at once, over one pass of the log, so what it computes is
what the actors computed (or would now compute, with changed code).

Memory stays bounded on a long log: like the actor, it keeps the sagas in flight and
only the newest :data:`KEEP_ENDED` ended ones (a result after the end still reaches a
recently ended saga, as it did in the actor); older ended sagas are handed to
``on_evict`` and dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sagalog.events import Message
from sagalog.events.runtime import HandlerFailed
from sagalog.events.sagas import RetryStep, StepTimedOut
from sagalog.sagas._actor import KEEP_ENDED
from sagalog.sagas._state import decide

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from sagalog.events import Envelope, Event
    from sagalog.sagas._definition import SagaDefinition
    from sagalog.sagas._state import Decision, SagaState
    from sagalog.sagas.history._bundle import SourcePositions
    from sagalog.store import LogReaderProtocol

__all__ = ["Folded", "SagaFold", "records_up_to"]

_MACHINERY = (StepTimedOut, RetryStep, HandlerFailed)


@dataclass
class Folded:
    """One saga after a record: its definition (as configured for the run) and state."""

    definition: SagaDefinition
    state: SagaState


class SagaFold:
    """Folds the records of a log into every saga of ``definitions``, one record at a time.

    Args:
        definitions: the saga definitions by name.
        configure: the definition one run was decided by, from the base definition and
            the run's start (:func:`sagas.catalog.definition_of_run`); None uses the base.
        on_evict: given each ended saga dropped to keep memory bounded.
        keep_ended: how many ended sagas to keep (the saga actor keeps as many).

    """

    def __init__(
        self,
        definitions: Mapping[str, SagaDefinition],
        configure: Callable[[SagaDefinition, Event], SagaDefinition] | None = None,
        on_evict: Callable[[Folded], None] | None = None,
        keep_ended: int = KEEP_ENDED,
    ) -> None:
        self.definitions = dict(definitions)
        self.configure = configure
        self.on_evict = on_evict
        self.keep_ended = keep_ended
        self.running: dict[tuple[str, str], Folded] = {}
        """Sagas in flight by (saga name, saga id)."""
        self.ended: OrderedDict[tuple[str, str], Folded] = OrderedDict()
        """The newest ended sagas, oldest first."""
        self._by_type: dict[str, list[SagaDefinition]] = {}
        for definition in self.definitions.values():
            handled: list[type[Message]] = [*definition.event_types(), *_MACHINERY]
            for kind in handled:
                self._by_type.setdefault(kind.message_type, []).append(definition)

    @property
    def types(self) -> list[str]:
        """The record types some definition handles (what to read from the log)."""
        return list(self._by_type)

    def fold(self, record: Envelope[Message]) -> list[tuple[Folded, list[Decision]]]:
        """Fold ``record`` into each saga it reaches; each one's new state and decisions."""
        touched = []
        for base in self._by_type.get(record.type, ()):
            data = record.data
            starts = isinstance(data, base.start)
            saga_id = (base.saga_id(data) if isinstance(data, base.start)
                       else record.correlation_id or "")
            key = (base.name, saga_id)
            folded = self.running.get(key) or self.ended.get(key)
            if folded is None and not starts:
                continue  # a result for a saga this log never started (as decide says)
            definition = folded.definition if folded is not None else self._configured(
                base, record)
            new, decisions = decide(definition, folded.state if folded else None, record)
            if new is None:
                continue
            now = Folded(definition, new)
            self._keep(key, now)
            touched.append((now, decisions))
        return touched

    def sagas(self) -> list[Folded]:
        """Every saga still held, ended (newest kept) and in flight."""
        return [*self.ended.values(), *self.running.values()]

    def _configured(self, base: SagaDefinition, start: Envelope[Message]) -> SagaDefinition:
        """The definition this run was decided by (``configure`` reads its start)."""
        if self.configure is None or not isinstance(start.data, base.start):
            return base
        return self.configure(base, start.data)

    def _keep(self, key: tuple[str, str], folded: Folded) -> None:
        if not folded.state.ended:
            self.running[key] = folded
            return
        self.running.pop(key, None)
        self.ended[key] = folded
        self.ended.move_to_end(key)
        while len(self.ended) > self.keep_ended:
            _, evicted = self.ended.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(evicted)


READ_PAGE = 100
"""Records per read of :func:`records_up_to`. Small on purpose: a page of 1,000 decoded
records outlives the collector's young generations, and the full collections that
follow cost more than the reads (the 200,000-record bench log's 125,860 records of the
saga types: 2.2-2.3 s of CPU at 1,000 a page, 1.3-1.8 s at 100)."""


def records_up_to(
    store: LogReaderProtocol,
    last: int,
    types: Iterable[type[Message] | str],
    progress: Callable[[int], None] | None = None,
    positions: SourcePositions | None = None,
) -> Iterator[Envelope[Message]]:
    """The records of ``types`` up to position ``last``, reporting progress now and then.

    The one pass ``at`` and ``what-if`` make, through the store's paging read on the
    caller's thread. ``progress`` gets the position reached every 512 records and
    ``last`` at the end, so a bar on a terminal moves and ends full. With ``positions``
    (a bundle's), each record comes at its source position, and ``last`` is one.
    """
    for count, stored in enumerate(_read(store, types)):
        record = stored if positions is None else stored._replace(
            position=positions.source(stored.position))
        if record.position > last:
            break
        yield record
        if progress is not None and count % 512 == 0:
            progress(record.position)
    if progress is not None:
        progress(last)


def _read(store: LogReaderProtocol, types: Iterable[type[Message] | str]
          ) -> Iterator[Envelope[Message]]:
    names = [kind if isinstance(kind, str) else kind.message_type for kind in types]
    position = 1
    while True:
        page = store.read_page(position, READ_PAGE, types=names)
        yield from page
        if len(page) < READ_PAGE:
            return
        position = page[-1].position + 1
