"""The state of every saga as of one point of the log: ``at POSITION`` and ``at --as-of TIME``.

The log up to that position is folded as the saga actors fold it (:class:`SagaFold`), so a
row shows what the saga knew right after that record: its status, the stage it was in,
each step's status and the reason it is failing or ended. Ended sagas become rows when
the fold drops them, so memory holds the sagas in flight, not their history.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from sagalog.sagas._state import TERMINAL
from sagalog.sagas.history._errors import PositionOutOfRangeError, TimeOutOfRangeError
from sagalog.sagas.history._fold import Folded, SagaFold, records_up_to
from sagalog.sagas.history._opening import Log, reading

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from sagalog.events import Event
    from sagalog.sagas._definition import SagaDefinition

__all__ = ["SagaRow", "position_at", "render_states", "state_at", "states_json"]


@dataclass(frozen=True)
class SagaRow:
    """One saga as of a position: what ``at`` prints."""

    saga: str
    saga_id: str
    status: str
    """running, compensating, or how it ended (completed, failed, ended, manual_review)."""
    stage: str
    """The stage it is in ("-" once it has ended)."""
    steps: dict[str, str]
    """Each step's status by name (a ForEach item's under ``name[item]``)."""
    reason: str
    """Why it is undoing, or why it ended that way (empty while all goes well)."""
    started_position: int

    @classmethod
    def of(cls, folded: Folded) -> SagaRow:
        """The row of a folded saga."""
        state, stages = folded.state, folded.definition.stages
        stage = ("-" if state.ended or not 0 <= state.stage < len(stages)
                 else stages[state.stage].label)
        return cls(folded.definition.name, state.saga_id, state.status, stage,
                   {name: step.status for name, step in state.steps.items()}, state.reason,
                   state.start.position)


def state_at(
    log: Log,
    definitions: Mapping[str, SagaDefinition],
    position: int,
    progress: Callable[[int], None] | None = None,
    *,
    configure: Callable[[SagaDefinition, Event], SagaDefinition] | None = None,
) -> list[SagaRow]:
    """Every saga started at or before ``position``, as it stood right after it, oldest first.

    Args:
        log: an opened store, or a target opened read-only for the call.
        definitions: the sagas to fold, by name.
        position: the point of the log; records after it are not read.
        progress: called with the position reached, now and then.
        configure: the definition one run was decided by, from the base definition and
            its start (:func:`sagas.catalog.definition_of_run` for the built-in ones).

    Raises:
        PositionOutOfRangeError: ``position`` is not in the log.

    """
    rows: list[SagaRow] = []
    fold = SagaFold(definitions, configure, on_evict=lambda folded: rows.append(
        SagaRow.of(folded)))
    with reading(log) as store:
        last = store.last_position()
        if not 1 <= position <= last:
            raise PositionOutOfRangeError(position, last)
        for record in records_up_to(store, position, fold.types, progress):
            fold.fold(record)
    rows += [SagaRow.of(folded) for folded in fold.sagas()]
    return sorted(rows, key=lambda row: row.started_position)


def position_at(log: Log, moment: datetime) -> int:
    """The last position recorded at or before ``moment`` (the log as it stood then).

    ``log`` is an opened store, or a target opened read-only for the call. Times are
    compared as the log stores them (see :meth:`~sagalog.store.LogReaderProtocol.position_at`).

    Raises:
        TimeOutOfRangeError: the log's first record is later than ``moment`` (or it
            holds none).

    """
    with reading(log) as store:
        position = store.position_at(moment)
        if not position:
            first = store.read_raw(1, 1)
            stamp = moment.astimezone(UTC).isoformat(timespec="microseconds")
            raise TimeOutOfRangeError(stamp, first[0].recorded_at if first else None)
    return position


def render_states(rows: list[SagaRow], position: int) -> str:
    """A table, one saga a line: saga, id, status, stage, reason, then each step's status.

    The steps come last because their list is the long one (a fan-out has a status per
    item); a step an ended saga never ran shows as ``never-run`` rather than ``pending``.
    """
    header = ("saga", "saga id", "status", "stage", "reason", "steps")
    table = [header, *((row.saga, row.saga_id, row.status, row.stage, row.reason or "-",
                        " ".join(f"{name}={_shown(row, status)}"
                                 for name, status in row.steps.items()))
                       for row in rows)]
    widths = [max(len(line[column]) for line in table) for column in range(len(header) - 1)]
    lines = [" ".join(f"{cell:<{width}}" for cell, width in zip(line, widths, strict=False))
             + " " + line[-1] for line in table]
    running = sum(row.status not in TERMINAL for row in rows)
    lines.append(f"{len(rows)} sagas as of position {position}: {running} in flight")
    return "\n".join(line.rstrip() for line in lines)


def _shown(row: SagaRow, status: str) -> str:
    return "never-run" if status == "pending" and row.status in TERMINAL else status


def states_json(rows: list[SagaRow], position: int) -> str:
    """The rows as one JSON document, for tools."""
    return json.dumps({"position": position, "sagas": [asdict(row) for row in rows]},
                      indent=2, ensure_ascii=False)
