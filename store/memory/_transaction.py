"""One write to an in-memory log, staged: nothing is part of the log until it commits.

A transaction resolves each append with the shared :func:`~sagalog.store._resolve.resolve`
(expected versions, idempotent event ids, the hash chain, the rows), against the log as
it stands plus what the transaction itself wrote before. It changes nothing in the log:
an error anywhere, in any of its appends or in a run status hook, drops the whole
transaction, which is what makes ``append_all`` and ``append_stream`` all or nothing.
The caller holds the log's lock from the start of the transaction to its commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagalog.store._resolve import BatchState, Pending, Row, resolve

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message
    from sagalog.store.memory._log import MemoryLog

__all__ = ["Transaction"]


class Transaction:
    """Appends and checkpoint moves for one commit of ``log``, at one ``recorded_at``."""

    def __init__(self, log: MemoryLog, recorded_at: str) -> None:
        self._log = log
        self._recorded_at = recorded_at
        self._state = BatchState({}, log.head, log.last_hash)
        self.rows: list[Row] = []
        """The new records, in position order."""
        self.messages: list[Message] = []
        """The messages of :attr:`rows`, in step with them."""
        self.checkpoints: dict[str, int] = {}
        """The checkpoints to move, each to the furthest position it was given."""

    def add(self, pending: Pending) -> list[list[Envelope[Message]]]:
        """Resolve ``pending`` after what this transaction holds; return its records.

        Raises:
            WrongExpectedVersionError: a stream is not at the version its write expects.
            EventIdConflictError: an event id is recorded with other content.

        """
        state, log = self._state, self._log
        for write in pending.writes:
            if write.stream_id not in state.versions:
                state.versions[write.stream_id] = log.version(write.stream_id)
            if write.explicit_ids:
                for event_id in write.event_ids:
                    if event_id not in state.recorded:
                        row = log.row_of(event_id)
                        if row is not None:
                            state.recorded[event_id] = row
        results, rows = resolve(pending, state, self._recorded_at, self.messages)
        self.rows.extend(rows)
        if pending.checkpoint is not None:
            self.move(*pending.checkpoint)
        return results

    def move(self, name: str, position: int) -> None:
        """Move checkpoint ``name`` to ``position`` at commit (never backwards)."""
        self.checkpoints[name] = max(position, self.checkpoints.get(name, position))
