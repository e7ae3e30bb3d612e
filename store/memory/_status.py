"""Run statuses from the hooks the layer above installs; the store itself knows no sagas.

For each record of a run (a correlation id) whose type some hook reads, the hooks are
asked in the order they were installed and the first non-None answer is the record's
status; a run's status is that of its last record that has one. A hook that raises (or
answers something that is not a str) is logged and gives that record no status: the
append itself succeeds, as on every backend (a status is a summary; a bug in one must
not lose a record).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loguru import logger

import sagalog.events._logging  # noqa: F401 - silent until the app turns logs on
from sagalog.store._decode import decode_rows
from sagalog.store._resolve import envelope

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sagalog.events import Envelope, Message, Registry
    from sagalog.store._contract import RunStatusHook
    from sagalog.store._resolve import Row
    from sagalog.store.memory._log import MemoryLog

__all__ = ["past_statuses", "record_statuses", "status_of"]


def status_of(record: Envelope[Message], hooks: Sequence[RunStatusHook]) -> str | None:
    """The status the first answering hook gives ``record``, or None."""
    for hook in hooks:
        if record.type not in hook.types:
            continue
        try:
            status = hook.status(record)
        except Exception as error:  # noqa: BLE001 - a hook must not fail an append
            logger.bind(position=record.position).opt(exception=error).error(
                "sagalog store: run status hook {!r} failed on {}", hook.name, record.type)
            continue
        if status is None:
            continue
        if not isinstance(status, str):
            logger.bind(position=record.position).error(
                "sagalog store: run status hook {!r} gave {!r}, not a str", hook.name, status)
            continue
        return status
    return None


def record_statuses(
    rows: Sequence[Row], messages: Sequence[Message], hooks: Sequence[RunStatusHook]
) -> list[str | None]:
    """The status of each new row (None for most), in step with ``rows``."""
    if not hooks:
        return [None] * len(rows)
    read = frozenset().union(*(hook.types for hook in hooks))
    return [
        status_of(envelope(row, message), hooks)
        if row[7] is not None and row[4] in read else None
        for row, message in zip(rows, messages, strict=True)
    ]


def past_statuses(
    log: MemoryLog, hooks: Sequence[RunStatusHook], new: RunStatusHook, registry: Registry
) -> list[tuple[str, int, str]]:
    """``(correlation id, position, status)`` that ``new`` gives records already stored.

    Only the records of ``new.types`` are read, and of those only the ones after their
    run's status: an earlier record could not win over it. Each is asked of the whole
    chain ``hooks`` (``new`` last), so a hook installed before still wins where it
    answers. Call with the log's lock held.
    """
    positions = sorted({p for name in new.types for p in log.types.get(name, [])})
    rows = [
        row for row in (log.rows[p - 1] for p in positions)
        if row[7] is not None and row[0] > log.runs.status_position(row[7])
    ]
    found = []
    for record in decode_rows([row[:10] for row in rows], registry):
        status = status_of(record, hooks)
        if status is not None and record.correlation_id is not None:
            found.append((record.correlation_id, record.position, status))
    return found
