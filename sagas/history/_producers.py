"""Who wrote each record: recovered from its event id, without storing it.

An actor's outputs are stored under ``derived_event_id(cause, actor, index)`` and the
timer service's under the name ``timers``. So for a record with a cause, the actor
that wrote it is the candidate whose derived id for some index equals the record's
id. The candidates are the names in the checkpoints table (every actor that consumed
the log has one). A record without a cause was appended from outside (a user, a CLI
command, an import): it is ``external``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from sagalog.events import derived_event_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from uuid import UUID

    from sagalog.events import Envelope, Message

__all__ = ["EXTERNAL", "TIMERS", "UNKNOWN", "producers"]

EXTERNAL = "external"
"""The producer of a record with no cause: appended from outside the runtime."""
TIMERS = "timers"
"""The producer of a record a durable timer delivered (a retry, a timeout, a schedule)."""
UNKNOWN = "unknown"
"""The producer of a record whose event id no candidate actor derives."""


def producers(records: Sequence[Envelope[Message]], actors: Iterable[str]) -> list[str]:
    """The producer of each of ``records`` (same order).

    The index of an output is at most the number of records sharing its cause that are
    in ``records`` (a timeline holds whole runs), so each record costs a few hashes.
    """
    candidates = [*dict.fromkeys(actors), TIMERS]
    siblings = Counter(record.causation_id for record in records)
    cache: dict[UUID, str] = {}
    found: list[str] = []
    for record in records:
        cause = record.causation_id
        if cause is None:
            found.append(EXTERNAL)
            continue
        if record.event_id in cache:
            found.append(cache[record.event_id])
            continue
        found.append(_match(record.event_id, cause, candidates, siblings[cause] + 2, cache))
    return found


def _match(event_id: UUID, cause: UUID, candidates: list[str], width: int,
           cache: dict[UUID, str]) -> str:
    for name in candidates:
        for index in range(width):
            derived = derived_event_id(cause, name, index)
            cache[derived] = name
            if derived == event_id:
                return name
    return UNKNOWN
